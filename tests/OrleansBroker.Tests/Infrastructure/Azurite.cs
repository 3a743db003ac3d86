using System.Diagnostics;
using System.Net.Sockets;
using OrleansBroker.Server.Hosting;
using Xunit;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>
/// A real Azurite (the npm package <c>azurite</c>, pinned in <c>tests/azurite/package.json</c>) for the
/// Azure Storage tests. Unless <c>OBROKER_TEST_AZURE_CONNECTION_STRING</c> names a running one, it is
/// installed with <c>npm ci</c> on first use and started on free ports with a workspace folder of its
/// own; dispose stops it by its PID (again is a no-op). Tests share one Azurite and keep apart by unique container and
/// table names.
/// </summary>
public sealed class Azurite : IAsyncLifetime
{
    public const string ConnectionStringVariable = "OBROKER_TEST_AZURE_CONNECTION_STRING";

    private const string AccountKey = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
    private static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(10);

    private Process? _process;
    private TestData? _workspace;

    public string ConnectionString { get; private set; } = "";

    public async Task InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable(ConnectionStringVariable) is { Length: > 0 } given)
        {
            ConnectionString = given;
            return;
        }

        var entry = await EnsureInstalledAsync();
        _workspace = new TestData();
        var blobPort = RealProcess.FreePort();
        var queuePort = RealProcess.FreePort();
        var tablePort = RealProcess.FreePort();
        _process = RealProcess.StartProgram("node", _workspace.Directory,
        [
            entry, "--location", _workspace.Directory, "--silent", "--skipApiVersionCheck", "--loose", "--disableTelemetry",
            "--blobPort", $"{blobPort}", "--queuePort", $"{queuePort}", "--tablePort", $"{tablePort}",
        ]);
        var output = new CapturedOutput(_process);

        await Eventually.HoldsAsync(
            async () => _process.HasExited
                ? throw new InvalidOperationException($"Azurite exited with {_process.ExitCode}: {output.Text}")
                : await AcceptsAsync(blobPort) && await AcceptsAsync(tablePort),
            "Azurite listening on its blob and table ports");

        ConnectionString =
            $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={AccountKey};" +
            $"BlobEndpoint=http://127.0.0.1:{blobPort}/devstoreaccount1;" +
            $"QueueEndpoint=http://127.0.0.1:{queuePort}/devstoreaccount1;" +
            $"TableEndpoint=http://127.0.0.1:{tablePort}/devstoreaccount1;";
    }

    public Task DisposeAsync()
    {
        if (_process is { } process)
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
            }

            process.Dispose();
            _process = null;
        }

        _workspace?.Dispose();
        _workspace = null;
        return Task.CompletedTask;
    }

    /// <summary>A name unique to one test, valid as a blob container and as a table name.</summary>
    public static string UniqueName(string prefix) => prefix + Guid.NewGuid().ToString("N")[..20];

    /// <summary>
    /// Broker storage of one cluster on this Azurite: its container and reminder table are named once, here, because the
    /// returned callback runs on every silo and they must all share them.
    /// </summary>
    public Action<ISiloBuilder> ClusterStorage()
    {
        var container = UniqueName("c");
        var reminders = UniqueName("r");
        return silo => silo.UseAzureBrokerStorage(ConnectionString, options =>
        {
            options.AzureContainerName = container;
            options.AzureReminderTableName = reminders;
        });
    }

    /// <summary>silo-host switches of one cluster on this Azurite: storage, reminders and membership, with their names fresh.</summary>
    public string[] SiloArgs(string clusterId, string membershipTable) =>
    [
        "--storage", "azure", "--clustering", "azure", "--azure-connection-string", ConnectionString, "--cluster-id", clusterId,
        "--Broker:AzureContainerName", UniqueName("c"), "--Broker:AzureReminderTableName", UniqueName("r"),
        "--Broker:ClusteringTableName", membershipTable, "--advertised-address", "127.0.0.1",
    ];

    /// <summary>obroker switches that find that cluster's gateways through its membership table.</summary>
    public string[] CliArgs(string clusterId, string membershipTable) =>
        ["--clustering", "azure", "--azure-connection-string", ConnectionString, "--clustering-table", membershipTable, "--cluster-id", clusterId];

    private static async Task<bool> AcceptsAsync(int port)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync("127.0.0.1", port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    /// <summary>Runs <c>npm ci</c> in tests/azurite once; a lock file keeps two test runs from installing at once.</summary>
    private static async Task<string> EnsureInstalledAsync()
    {
        var folder = Path.Combine(RealProcess.RepoRoot, "tests", "azurite");
        var entry = Path.Combine(folder, "node_modules", "azurite", "dist", "src", "azurite.js");
        if (File.Exists(entry))
        {
            return entry;
        }

        var deadline = DateTime.UtcNow + InstallTimeout;
        FileStream? installLock = null;
        while (installLock is null)
        {
            try
            {
                installLock = new FileStream(Path.Combine(folder, ".install.lock"), FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None, 1, FileOptions.DeleteOnClose);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                // Another test run is installing; it is done when the lock is free.
                await Task.Delay(500);
            }
        }

        using (installLock)
        {
            if (File.Exists(entry))
            {
                return entry;
            }

            (int ExitCode, string Out, string Err) npm;
            try
            {
                npm = await RealProcess.RunProgramAsync("npm", folder, InstallTimeout, "ci", "--no-audit", "--no-fund");
            }
            catch (System.ComponentModel.Win32Exception exception)
            {
                throw new InvalidOperationException("The Azure Storage tests need Node.js and npm on PATH to install Azurite (or set " + ConnectionStringVariable + ").", exception);
            }

            if (npm.ExitCode != 0 || !File.Exists(entry))
            {
                throw new InvalidOperationException($"npm ci for Azurite failed with {npm.ExitCode}: {npm.Out}{npm.Err}");
            }

            return entry;
        }
    }
}
