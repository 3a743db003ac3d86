using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.EndToEnd;

/// <summary>
/// silo-host on Azure Storage (Azurite) for messages, reminders and clustering, with the CLI finding
/// the gateway through the membership table: the same kill -9 path as on SQLite.
/// </summary>
public sealed class AzureSiloTests : IAsyncLifetime
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);
    private readonly Azurite _azurite = new();

    public Task InitializeAsync() => _azurite.InitializeAsync();

    public Task DisposeAsync() => _azurite.DisposeAsync();

    [Fact]
    public async Task Messages_published_through_azure_clustering_survive_kill_9_of_the_silo()
    {
        using var data = new TestData();
        var siloPort = RealProcess.FreePort();
        var gatewayPort = RealProcess.FreePort();
        var clusterId = Azurite.UniqueName("cluster");
        var membership = Azurite.UniqueName("m");
        var siloArgs = _azurite.SiloArgs(clusterId, membership);
        var cliArgs = _azurite.CliArgs(clusterId, membership);

        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort, siloArgs))
        {
            await silo.WaitUntilReadyAsync();
            Assert.Contains($"clustering azure table '{membership}'", silo.Output, StringComparison.Ordinal);
            var publish = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, CommandTimeout, ["publish", "az", "--count", "500", .. cliArgs]);
            Assert.True(publish.ExitCode == 0, publish.Err);
            Assert.StartsWith("published 500 messages to az", publish.Out, StringComparison.Ordinal);
            silo.KillHard();
        }

        Assert.Empty(Directory.GetFiles(data.Directory, "*.db"));
        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort, siloArgs))
        {
            await silo.WaitUntilReadyAsync();
            var consume = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, CommandTimeout, ["consume", "az", "--count", "500", "--timeout", "60", .. cliArgs]);
            Assert.True(consume.ExitCode == 0, consume.Err);
            Assert.Equal(Enumerable.Range(1, 500).Select(i => $"message {i}"), consume.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
    }

    [Fact]
    public async Task Azure_clustering_without_azure_storage_is_refused_at_start()
    {
        using var data = new TestData();
        var result = await RealProcess.RunAsync(RealProcess.SiloDll, data.Directory, CommandTimeout,
            "--data-dir", data.Directory, "--clustering", "azure", "--azure-connection-string", _azurite.ConnectionString,
            "--silo-port", $"{RealProcess.FreePort()}", "--gateway-port", $"{RealProcess.FreePort()}");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Broker:Clustering=azure needs storage every silo shares", result.Out + result.Err, StringComparison.Ordinal);
    }
}
