using System.Text;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Queues;

/// <summary>
/// A lease ends at its time. The queue's expiry check runs only once a minute here, so what this test sees comes from
/// the lease's end itself: a late ack or extension is refused, and the message comes again at once.
/// </summary>
public sealed class LeaseEndTests : BrokerClusterTest
{
    private static readonly QueueOptions OneSecondLease = new() { LeaseDuration = TimeSpan.FromSeconds(1) };

    protected override Task<BrokerCluster> StartAsync() => BrokerCluster.StartAsync(options => options.LeaseCheckInterval = TimeSpan.FromMinutes(1));

    [Fact]
    public async Task An_ack_after_the_lease_ended_is_LeaseLost_and_the_message_comes_again()
    {
        await Admin.CreateQueueAsync("late", OneSecondLease);
        await Broker.PublishAsync("late", new BrokerMessage("m1", Encoding.UTF8.GetBytes("late")));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await using var deliveries = Broker.ReadAllAsync("late", cancellationToken: timeout.Token).GetAsyncEnumerator(timeout.Token);
        Assert.True(await deliveries.MoveNextAsync());
        var first = deliveries.Current;
        Assert.Equal(1, first.Attempt);

        await Eventually.HoldsAsync(() => DateTimeOffset.UtcNow > first.LeaseExpiresAt + TimeSpan.FromMilliseconds(100), "the lease's end passed");
        var lost = await Assert.ThrowsAsync<BrokerException>(() => Broker.CompleteAsync(first));
        Assert.Equal(BrokerErrorCode.LeaseLost, lost.Code);
        var extend = await Assert.ThrowsAsync<BrokerException>(() => Broker.RenewLeaseAsync(first, TimeSpan.FromSeconds(5)));
        Assert.Equal(BrokerErrorCode.LeaseLost, extend.Code);

        Assert.True(await deliveries.MoveNextAsync());
        Assert.Equal("m1", deliveries.Current.MessageId);
        Assert.Equal(2, deliveries.Current.Attempt);
        await Broker.CompleteAsync(deliveries.Current);
    }
}
