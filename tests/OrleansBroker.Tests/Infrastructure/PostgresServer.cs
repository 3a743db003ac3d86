using System.Security.Cryptography;
using Npgsql;
using Xunit;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL server for the PostgreSQL tests: Debian's <c>postgresql</c> package (installed with apt-get on first use
/// when missing), a cluster of its own made with <c>initdb</c> in a temporary folder and started with <c>pg_ctl</c> on a free
/// loopback port, password authentication over TCP (a random password per server), stopped by <c>pg_ctl stop</c> on dispose.
/// PostgreSQL refuses to run as root, so when the tests are root it runs as the package's <c>postgres</c> user. Unless
/// <c>OBROKER_TEST_POSTGRES_CONNECTION_STRING</c> names a running server (whose role may create databases). Tests keep apart
/// by databases of their own (<see cref="UniqueDatabase"/>); the silo creates a database it is pointed at when it is missing.
/// </summary>
public sealed class PostgresServer : IAsyncLifetime
{
    public const string ConnectionStringVariable = "OBROKER_TEST_POSTGRES_CONNECTION_STRING";

    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(2);
    private static readonly bool AsRoot = Environment.UserName == "root";

    private TestData? _folder;
    private string? _bin;
    private int _port;
    private NpgsqlConnectionStringBuilder _server = new();

    public async Task InitializeAsync()
    {
        if (Environment.GetEnvironmentVariable(ConnectionStringVariable) is { Length: > 0 } given)
        {
            _server = new NpgsqlConnectionStringBuilder(given);
            return;
        }

        _bin = Path.GetDirectoryName(await DebianPackage.EnsureAsync(FindPostgres, "PostgreSQL's server (/usr/lib/postgresql/*/bin/postgres)",
            "postgresql", "The PostgreSQL tests"))!;
        _folder = new TestData();
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        var passwordFile = Path.Combine(_folder.Directory, "password");
        await File.WriteAllTextAsync(passwordFile, password);
        if (AsRoot)
        {
            await RunAsync("chown", "-R", "postgres:postgres", _folder.Directory);
        }

        await RunAsPostgresAsync("initdb", "-D", DataFolder, "-U", "postgres", "--pwfile", passwordFile, "--auth-local=trust", "--auth-host=scram-sha-256",
            "-E", "UTF8", "--no-sync");
        _port = RealProcess.FreePort();
        await StartAsync();
        _server = new NpgsqlConnectionStringBuilder
        {
            Host = "127.0.0.1",
            Port = _port,
            Username = "postgres",
            Password = password,
            Database = "postgres",
        };
    }

    private string DataFolder => Path.Combine(_folder!.Directory, "data");

    /// <summary>Starts the server this fixture made (again, after <see cref="StopAsync"/>), on its port.</summary>
    public Task StartAsync() =>
        RunAsPostgresAsync("pg_ctl", "start", "-D", DataFolder, "-l", Path.Combine(_folder!.Directory, "server.log"), "-w", "-t", "60",
            "-o", $"-p {_port} -k {_folder.Directory} -c listen_addresses=127.0.0.1 -c max_connections=300");

    /// <summary>Stops the server this fixture made, closing every connection (<c>pg_ctl stop -m fast</c>).</summary>
    public Task StopAsync() => RunAsPostgresAsync("pg_ctl", "stop", "-D", DataFolder, "-m", "fast", "-w", "-t", "60");

    public async Task DisposeAsync()
    {
        if (_folder is not null && _bin is not null && File.Exists(Path.Combine(DataFolder, "postmaster.pid")))
        {
            // Stops the server this fixture started (pg_ctl finds it by the PID file in its own data folder).
            await StopAsync();
        }

        _folder?.Dispose();
        _folder = null;
    }

    /// <summary>A database name unique to one test; the silo creates the database at its first start.</summary>
    public static string UniqueDatabase(string prefix = "broker") => prefix + "_" + Guid.NewGuid().ToString("N")[..16];

    /// <summary>Connection string of <paramref name="database"/> on this server, as the superuser.</summary>
    public string ConnectionString(string database) => new NpgsqlConnectionStringBuilder(_server.ConnectionString) { Database = database }.ConnectionString;

    /// <summary>Connection string with a wrong password.</summary>
    public string WrongPasswordConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder(ConnectionString(database)) { Password = "not-the-password" }.ConnectionString;

    /// <summary>Runs SQL on <paramref name="database"/> and returns the first column of the first row.</summary>
    public async Task<object?> ScalarAsync(string database, string sql)
    {
        await using var connection = new NpgsqlConnection(ConnectionString(database));
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync();
    }

    /// <summary>silo-host switches of one cluster on this server: storage, reminders and membership in one fresh database.</summary>
    public string[] SiloArgs(string clusterId, string database) =>
    [
        "--storage", "postgres", "--clustering", "postgres", "--postgres-connection-string", ConnectionString(database), "--cluster-id", clusterId,
        "--advertised-address", "127.0.0.1",
    ];

    /// <summary>obroker switches that find that cluster's gateways through its membership table.</summary>
    public string[] CliArgs(string clusterId, string database) =>
        ["--clustering", "postgres", "--postgres-connection-string", ConnectionString(database), "--cluster-id", clusterId];

    private static string? FindPostgres() =>
        Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql")
                .Select(version => Path.Combine(version, "bin", "postgres"))
                .Where(File.Exists)
                .OrderByDescending(path => path, StringComparer.Ordinal)
                .FirstOrDefault()
            : null;

    private Task RunAsPostgresAsync(string tool, params string[] args)
    {
        var program = Path.Combine(_bin!, tool);
        return AsRoot
            ? RunAsync("setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", program, .. args])
            : RunAsync(program, args);
    }

    private async Task RunAsync(string program, params string[] args)
    {
        var (code, output, error) = await RealProcess.RunProgramAsync(program, Path.GetTempPath(), CommandTimeout, args);
        if (code != 0)
        {
            var log = _folder is not null && File.Exists(Path.Combine(_folder.Directory, "server.log"))
                ? await File.ReadAllTextAsync(Path.Combine(_folder.Directory, "server.log"))
                : "";
            throw new InvalidOperationException($"{Path.GetFileName(program)} {string.Join(' ', args)} failed ({code}): {error}{output}{log}");
        }
    }
}
