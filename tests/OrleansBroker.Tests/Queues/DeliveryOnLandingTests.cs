using System.Text;
using OrleansBroker.Client;
using OrleansBroker.Messages;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Tests.Storage;
using Xunit;

namespace OrleansBroker.Tests.Queues;

/// <summary>
/// A message published while a consumer has room goes out once its own commit lands: its first attempt is stored with
/// it, so no second commit stands between the publish and the delivery. Real SQLite files behind a storage that can
/// hold writes back.
/// </summary>
public sealed class DeliveryOnLandingTests : BrokerClusterTest
{
    protected override Task<BrokerCluster> StartAsync() => BrokerCluster.StartAsync(silo: FailingStorage.OverSqlite);

    private FailingStorage Storage => FailingStorage.Of(Cluster);

    [Fact]
    public async Task A_message_for_a_waiting_consumer_is_delivered_with_no_commit_after_its_own()
    {
        const string Queue = "on-landing";
        await Admin.CreateQueueAsync(Queue);
        var delivered = new TaskCompletionSource<Delivery>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var consumer = await Broker.ConsumeAsync(Queue, (delivery, _) =>
        {
            delivered.TrySetResult(delivery);
            return Task.CompletedTask;
        });
        await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync(Queue)).Consumers == 1, "the consumer is registered");

        // The publish's commit writes the queue's metadata once; every later commit would be held.
        var metaWrites = 0;
        Storage.HoldWrites = name => name == "meta" && Interlocked.Increment(ref metaWrites) > 1;
        try
        {
            await Broker.PublishAsync(Queue, new BrokerMessage("m1", Encoding.UTF8.GetBytes("one")));
            var delivery = await delivered.Task.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal("one", delivery.BodyText());
            Assert.Equal(1, delivery.Attempt);
        }
        finally
        {
            Storage.HoldWrites = null;
            Storage.Release.TrySetResult();
        }

        // The ack and the attempt stored ahead both land: nothing is left, and a restart brings nothing back.
        await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync(Queue)).Depth == 0, "the ack is stored");
        await consumer.DisposeAsync();
        await Cluster.RestartSilosAsync();
        Assert.Equal(0, (await Admin.GetQueueInfoAsync(Queue)).Depth);
    }
}
