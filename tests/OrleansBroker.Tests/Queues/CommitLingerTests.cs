using System.Diagnostics;
using OrleansBroker.Client;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Queues;

/// <summary>
/// <c>CommitLinger</c>: a commit holding only acks waits for a publish to share its write. Set to its longest (1 s)
/// here, so that what waited and what did not is told apart by a second, not by a measurement.
/// </summary>
public sealed class CommitLingerTests : BrokerClusterTest
{
    private static readonly TimeSpan Linger = TimeSpan.FromSeconds(1);

    protected override Task<BrokerCluster> StartAsync() => BrokerCluster.StartAsync(o => o.CommitLinger = Linger);

    [Fact]
    public async Task An_ack_alone_returns_after_the_linger_and_one_followed_by_a_publish_returns_with_that_publish()
    {
        await Admin.CreateQueueAsync("linger");
        await Broker.PublishAsync("linger", "first", "m1");
        await using var deliveries = Broker.ReadWithTimeoutAsync("linger", new ConsumerOptions { Prefetch = 1 }).GetAsyncEnumerator();
        Assert.True(await deliveries.MoveNextAsync());

        var clock = Stopwatch.StartNew();
        await Broker.CompleteAsync(deliveries.Current);
        Assert.True(clock.Elapsed >= Linger * 0.9, $"an ack with no publish to share its write returned after {clock.Elapsed}");

        await Broker.PublishAsync("linger", "second", "m2");
        Assert.True(await deliveries.MoveNextAsync());
        Assert.Equal("m2", deliveries.Current.MessageId);
        clock.Restart();
        var ack = Broker.CompleteAsync(deliveries.Current);
        await Broker.PublishAsync("linger", "third", "m3");
        await ack;
        Assert.True(clock.Elapsed < Linger, $"an ack followed by a publish returned after {clock.Elapsed}, not with the publish's commit");

        // Both acks were durable when they returned: a restart brings back only the unacked third message.
        await Cluster.RestartSilosAsync();
        var info = await Admin.GetQueueInfoAsync("linger");
        Assert.Equal(1, info.Depth);
        Assert.Equal(2, info.Counters.Acked);
    }
}
