using OrleansBroker.Client;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.EndToEnd;

/// <summary>The user's path with real processes: silo-host, the obroker CLI, kill -9, restart.</summary>
public sealed class KillAndRestartTests
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Messages_published_with_the_cli_survive_kill_9_of_the_silo()
    {
        using var data = new TestData();
        var siloPort = RealProcess.FreePort();
        var gatewayPort = RealProcess.FreePort();
        var gateway = $"127.0.0.1:{gatewayPort}";

        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort))
        {
            await silo.WaitUntilReadyAsync();
            Assert.Contains(Path.Combine(data.Directory, "broker.db"), silo.Output, StringComparison.Ordinal);

            // Every log entry starts with its UTC time, so a failure's timeline can be read from the log.
            Assert.Matches(new System.Text.RegularExpressions.Regex(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z info: OrleansBroker", System.Text.RegularExpressions.RegexOptions.Multiline), silo.Output);
            var publish = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, CommandTimeout, "publish", "e2e", "--count", "1000", "--gateway", gateway);
            Assert.True(publish.ExitCode == 0, publish.Err);
            Assert.StartsWith("published 1000 messages to e2e", publish.Out, StringComparison.Ordinal);
            var pipelined = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, CommandTimeout, "publish", "e2e-pipelined", "--count", "1000", "--batch", "50", "--inflight", "8", "--gateway", gateway);
            Assert.True(pipelined.ExitCode == 0, pipelined.Err);
            silo.KillHard();
        }

        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort))
        {
            await silo.WaitUntilReadyAsync();
            var consume = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, CommandTimeout, "consume", "e2e", "--count", "1000", "--timeout", "60", "--gateway", gateway);
            Assert.True(consume.ExitCode == 0, consume.Err);
            var lines = consume.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(Enumerable.Range(1, 1000).Select(i => $"message {i}"), lines);

            var info = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, CommandTimeout, "queue", "info", "e2e", "--gateway", gateway);
            Assert.True(info.ExitCode == 0, info.Err);
            Assert.Matches(@"ready:\s+0\b", info.Out);

            // Every confirmation the pipelined publish counted was durable before the kill.
            var pipelined = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, CommandTimeout, "queue", "info", "e2e-pipelined", "--gateway", gateway);
            Assert.True(pipelined.ExitCode == 0, pipelined.Err);
            Assert.Matches(@"ready:\s+1000\b", pipelined.Out);
        }
    }

    [Fact]
    public async Task A_delivery_counts_as_an_attempt_across_kill_9_so_a_message_that_kills_its_silo_ends_in_the_dead_letter_queue()
    {
        using var data = new TestData();
        var siloPort = RealProcess.FreePort();
        var gatewayPort = RealProcess.FreePort();

        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort))
        {
            await silo.WaitUntilReadyAsync();
            await using var client = await GatewayClient.ConnectAsync(gatewayPort);
            await client.Admin.CreateQueueAsync("poison", new QueueOptions { MaxDeliveryAttempts = 2 });
            await client.Broker.PublishAsync("poison", "crashes whoever handles it", "p-1");

            // Delivered, never settled: the handler "takes the silo down with it".
            await foreach (var delivery in client.Broker.ReadWithTimeoutAsync("poison"))
            {
                Assert.Equal(1, delivery.Attempt);
                break;
            }

            silo.KillHard();
        }

        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort))
        {
            await silo.WaitUntilReadyAsync();
            await using var client = await GatewayClient.ConnectAsync(gatewayPort);
            await foreach (var delivery in client.Broker.ReadWithTimeoutAsync("poison"))
            {
                Assert.Equal(("p-1", 2), (delivery.MessageId, delivery.Attempt));
                await client.Broker.AbandonAsync(delivery);
                break;
            }

            await Eventually.HoldsAsync(async () => (await client.Admin.GetQueueInfoAsync("poison")).Depth == 0, "the last attempt's failure takes the message out of the queue");
            var dead = Assert.Single(await client.Broker.PeekAsync("poison.dlq"));
            Assert.Equal("p-1", dead.MessageId);
            Assert.Equal("2", dead.Headers![BrokerHeaders.Attempts]);
        }
    }

    [Theory]
    [InlineData("--storage", "bogus", "Broker:Storage")]
    [InlineData("--silo-port", "abc", "Broker:SiloPort")]
    [InlineData("--max-message-bytes", "0", "Broker:MaxMessageBytes")]
    [InlineData("--Broker:CommitLinger", "00:00:05", "Broker:CommitLinger")]
    [InlineData("--disk-free-limit", "lots", "Broker:DiskFreeLimit")]
    [InlineData("--http-port", "web", "Broker:Http:Port")]
    [InlineData("--http-address", "localhost.example", "Broker:Http:Address")]
    [InlineData("--Broker:Http:AdminPassword", "short", "Broker:Http:AdminPassword")]
    public async Task A_bad_setting_stops_the_silo_with_one_line_naming_it(string option, string value, string setting)
    {
        using var data = new TestData();
        var result = await RealProcess.RunAsync(RealProcess.SiloDll, data.Directory, CommandTimeout,
            "--data-dir", data.Directory, "--gateway-port", $"{RealProcess.FreePort()}", "--http-port", "0", option, value);
        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("obroker-silo: ", line, StringComparison.Ordinal);
        Assert.Contains(setting, line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_cli_says_so_in_one_line_when_no_broker_listens()
    {
        using var data = new TestData();
        var result = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, CommandTimeout, "queue", "list", "--gateway", $"127.0.0.1:{RealProcess.FreePort()}");
        Assert.Equal(3, result.ExitCode);
        Assert.StartsWith("obroker: cannot reach the broker", result.Err, StringComparison.Ordinal);
        Assert.Contains("refused", result.Err, StringComparison.OrdinalIgnoreCase); // said at once, not after the connect timeout
        Assert.Single(result.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
    }
}
