using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.EndToEnd;

/// <summary>Topics the way an operator drives them: silo-host and obroker processes, kill -9 between publish and consume.</summary>
public sealed class TopicCliTests
{
    [Fact]
    public async Task Filtered_and_transformed_subscriptions_and_replay_from_the_cli_hold_across_kill_9()
    {
        using var data = new TestData();
        var siloPort = RealProcess.FreePort();
        var gatewayPort = RealProcess.FreePort();
        var cli = new ObrokerCli(data.Directory, gatewayPort);

        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort))
        {
            await silo.WaitUntilReadyAsync();
            await cli.OkAsync("topic", "create", "orders", "--retention", "1h");
            await cli.OkAsync("topic", "subscribe", "orders", "eu", "--header-prefix", "region=eu-");
            var info = await cli.OkAsync("topic", "subscribe", "orders", "ce", "--transform", "cloudevents-wrap", "--transform-setting", "source=/shop");
            Assert.Contains("orders/eu                                region ^= eu-", info, StringComparison.Ordinal);
            Assert.Contains("retention:      01:00:00", info, StringComparison.Ordinal);

            Assert.Contains("stored for ce", await cli.OkAsync("publish", "orders", "--body", "us order"), StringComparison.Ordinal);
            silo.KillHard();
        }

        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort))
        {
            await silo.WaitUntilReadyAsync();
            Assert.Contains("\"source\":\"/shop\"", await cli.OkAsync("consume", "orders/ce", "--count", "1", "--timeout", "60"), StringComparison.Ordinal);
            Assert.Contains("ready:          0", await cli.OkAsync("queue", "info", "orders/eu"), StringComparison.Ordinal);

            await cli.OkAsync("topic", "subscribe", "orders", "late", "--replay-from", "earliest");
            Assert.StartsWith("us order\n", await cli.OkAsync("consume", "orders/late", "--count", "1", "--timeout", "60"), StringComparison.Ordinal);
        }
    }
}
