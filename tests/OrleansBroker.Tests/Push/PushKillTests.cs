using System.Collections.Concurrent;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Push;

/// <summary>Push delivery as a user meets it across a crash: silo-host pushing to a receiver, killed with kill -9 mid-stream, restarted.</summary>
public sealed class PushKillTests
{
    private const int Count = 5_000;
    private const int Batch = 50;

    [Fact]
    public async Task Every_message_confirmed_to_the_publisher_reaches_the_receiver_across_a_kill_9()
    {
        using var data = new TestData();
        await using var receiver = await PushReceiver.StartAsync();
        var hook = receiver.Add();
        var (siloPort, gatewayPort) = (RealProcess.FreePort(), RealProcess.FreePort());
        string[] args = ["--Broker:Http:AdminPassword", PushSilo.AdminPassword, "--Broker:Push:AllowedHosts:0", "127.0.0.1"];
        var confirmed = new ConcurrentDictionary<string, bool>(StringComparer.Ordinal);
        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort, args))
        {
            await silo.WaitUntilReadyAsync();
            await using var dotnet = await GatewayClient.ConnectAsync(gatewayPort);
            await dotnet.Admin.CreateQueueAsync("pushed", new QueueOptions { Push = PushSilo.Endpoint(hook) });
            var publishing = PublishAsync(dotnet, confirmed);
            await Eventually.HoldsAsync(() => hook.Acked().Count >= 500, "pushing under way");
            silo.KillHard();
            try
            {
                await publishing;
            }
            catch (Exception exception) when (exception is not Xunit.Sdk.XunitException)
            {
                // Cut off by the kill, as a publisher is: what was not confirmed is published again below.
            }

            Assert.True(hook.Acked().Count < Count, "killed before every message was pushed");
        }

        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort, args))
        {
            await silo.WaitUntilReadyAsync();
            await using var dotnet = await GatewayClient.ConnectAsync(gatewayPort);

            // The publisher publishes again what was not confirmed (the queue's deduplication takes what was stored unconfirmed once).
            await PublishAsync(dotnet, confirmed);
            Assert.Equal(Count, confirmed.Count);
            try
            {
                await Eventually.HoldsAsync(() => confirmed.Keys.All(hook.Acked().ContainsKey), "every confirmed message pushed", TimeSpan.FromMinutes(2));
            }
            catch (TimeoutException)
            {
                var acked = hook.Acked();
                Assert.Fail($"{confirmed.Keys.Count(id => !acked.ContainsKey(id))} of {Count} confirmed messages never reached the receiver");
            }
        }
    }

    /// <summary>Publishes m0..m{Count-1} not yet confirmed, in batches, recording each confirmed id; throws when the silo is gone.</summary>
    private static async Task PublishAsync(GatewayClient dotnet, ConcurrentDictionary<string, bool> confirmed)
    {
        foreach (var batch in Enumerable.Range(0, Count).Select(i => $"m{i}").Where(id => !confirmed.ContainsKey(id)).Chunk(Batch))
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
            await dotnet.Broker.PublishBatchAsync("pushed", [.. batch.Select(id => new BrokerMessage(id, "x"u8.ToArray()))], timeout.Token);
            foreach (var id in batch)
            {
                confirmed[id] = true;
            }
        }
    }
}
