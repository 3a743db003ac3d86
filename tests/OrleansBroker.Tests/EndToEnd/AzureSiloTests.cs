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
            "--silo-port", $"{RealProcess.FreePort()}", "--gateway-port", $"{RealProcess.FreePort()}", "--http-port", "0");
        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains("Broker:Clustering=azure needs storage every silo shares", result.Out + result.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("a malformed account key", "is not an Azure Storage connection string")]
    [InlineData("a wrong account key", "refused the credentials")]
    [InlineData("an address nothing answers on", "did not answer")]
    public async Task Azure_storage_that_refuses_or_does_not_answer_stops_the_silo_at_start_with_one_line(string what, string says)
    {
        using var data = new TestData();
        var wrongKey = what.Contains("malformed", StringComparison.Ordinal) ? "not-base-64!" : Convert.ToBase64String(new byte[64]);
        var connectionString = what.Contains("key", StringComparison.Ordinal)
            ? System.Text.RegularExpressions.Regex.Replace(_azurite.ConnectionString, "AccountKey=[^;]+", "AccountKey=" + wrongKey)
            : $"DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey={wrongKey};" +
              $"BlobEndpoint=http://127.0.0.1:{RealProcess.FreePort()}/devstoreaccount1;TableEndpoint=http://127.0.0.1:{RealProcess.FreePort()}/devstoreaccount1;";

        // Before, Orleans' reminder table retried a wrong key for as long as the silo ran: this would time out.
        var result = await RealProcess.RunAsync(RealProcess.SiloDll, data.Directory, CommandTimeout,
            "--data-dir", data.Directory, "--storage", "azure", "--azure-connection-string", connectionString,
            "--silo-port", $"{RealProcess.FreePort()}", "--gateway-port", $"{RealProcess.FreePort()}", "--http-port", "0");
        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("obroker-silo: Broker:AzureConnectionString", line, StringComparison.Ordinal);
        Assert.Contains(says, line, StringComparison.Ordinal);
    }
}
