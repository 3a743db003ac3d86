using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.EndToEnd;

/// <summary>Topics the way an operator drives them: silo-host and obroker processes, kill -9 between publish and consume.</summary>
public sealed class TopicCliTests
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Filtered_and_transformed_subscriptions_and_replay_from_the_cli_hold_across_kill_9()
    {
        using var data = new TestData();
        var siloPort = RealProcess.FreePort();
        var gatewayPort = RealProcess.FreePort();
        async Task<string> Cli(params string[] args)
        {
            var result = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, CommandTimeout, [.. args, "--gateway", $"127.0.0.1:{gatewayPort}"]);
            Assert.True(result.ExitCode == 0, $"obroker {string.Join(' ', args)} exited {result.ExitCode}: {result.Err}");
            return result.Out + result.Err;
        }

        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort))
        {
            await silo.WaitUntilReadyAsync();
            await Cli("topic", "create", "orders", "--retention", "1h");
            await Cli("topic", "subscribe", "orders", "eu", "--header-prefix", "region=eu-");
            var info = await Cli("topic", "subscribe", "orders", "ce", "--transform", "cloudevents-wrap", "--transform-setting", "source=/shop");
            Assert.Contains("orders/eu                                region ^= eu-", info, StringComparison.Ordinal);
            Assert.Contains("retention:      01:00:00", info, StringComparison.Ordinal);

            Assert.Contains("held by ce", await Cli("publish", "orders", "--body", "us order"), StringComparison.Ordinal);
            silo.KillHard();
        }

        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort))
        {
            await silo.WaitUntilReadyAsync();
            Assert.Contains("\"source\":\"/shop\"", await Cli("consume", "orders/ce", "--count", "1", "--timeout", "60"), StringComparison.Ordinal);
            Assert.Contains("ready:          0", await Cli("queue", "info", "orders/eu"), StringComparison.Ordinal);

            await Cli("topic", "subscribe", "orders", "late", "--replay-from", "earliest");
            Assert.StartsWith("us order\n", await Cli("consume", "orders/late", "--count", "1", "--timeout", "60"), StringComparison.Ordinal);
        }
    }
}
