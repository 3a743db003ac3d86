using System.Text;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Tests.Storage;
using Xunit;

namespace OrleansBroker.Tests.Queues;

/// <summary>
/// A settle whose commit fails: the caller gets a typed error, and sending the same settle again once storage is back
/// is answered Ok (the settle held all along and is durable now), not LeaseLost; a settle with another token is still
/// refused. Real SQLite files behind a storage whose writes the test can fail.
/// </summary>
public sealed class SettleFailureTests : BrokerClusterTest
{
    protected override Task<BrokerCluster> StartAsync() => BrokerCluster.StartAsync(silo: FailingStorage.OverSqlite);

    private FailingStorage Storage => FailingStorage.Of(Cluster);

    [Fact]
    public async Task An_ack_whose_commit_failed_is_answered_ok_when_sent_again_and_is_durable()
    {
        await Admin.CreateQueueAsync("acks");
        await Broker.PublishAsync("acks", new BrokerMessage("m1", Encoding.UTF8.GetBytes("one")));
        await Broker.PublishAsync("acks", new BrokerMessage("m2", Encoding.UTF8.GetBytes("two")));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var deliveries = Broker.ReadAllAsync("acks", cancellationToken: timeout.Token).GetAsyncEnumerator(timeout.Token);
        Assert.True(await deliveries.MoveNextAsync());
        var first = deliveries.Current;
        Assert.True(await deliveries.MoveNextAsync());
        var second = deliveries.Current;

        Storage.FailWrites = _ => true;
        var failed = await Assert.ThrowsAsync<BrokerException>(() => Broker.CompleteAsync(first));
        Assert.Equal(BrokerErrorCode.StorageUnavailable, failed.Code);
        Storage.FailWrites = null;

        // The same settle again: it held, and returns once it is durable.
        await Broker.CompleteAsync(first);

        // Only that delivery's token is taken for it: a made-up one is refused, and so is the ack sent a third time.
        var forged = await Assert.ThrowsAsync<BrokerException>(() => Broker.CompleteAsync(second with { LeaseToken = second.LeaseToken + 1 }));
        Assert.Equal(BrokerErrorCode.LeaseLost, forged.Code);
        var third = await Assert.ThrowsAsync<BrokerException>(() => Broker.CompleteAsync(first));
        Assert.Equal(BrokerErrorCode.LeaseLost, third.Code);
        await Broker.CompleteAsync(second);

        await Cluster.RestartSilosAsync();
        Assert.Empty(await Broker.PeekAsync("acks", 0, 10));
        Assert.Equal(0, (await Admin.GetQueueInfoAsync("acks")).Ready);
    }
}
