using Microsoft.Extensions.DependencyInjection;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Telemetry;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Queues;

/// <summary>
/// A queue with nothing in hand stops its timer, so many idle queues cost no CPU; any call starts it again, so nothing that
/// ends with time (a time to live, a lease) waits for a timer that does not run.
/// </summary>
public sealed class QuietQueueTests : BrokerClusterTest
{
    private int Ticking => Cluster.SiloServices.GetRequiredService<BrokerMetrics>().TickingQueues;

    protected override Task<BrokerCluster> StartAsync() => BrokerCluster.StartAsync(options => options.ReminderPeriod = TimeSpan.FromSeconds(1));

    [Fact]
    public async Task A_queue_with_nothing_in_hand_stops_its_timer_and_a_later_publish_starts_it_so_the_message_still_expires_on_time()
    {
        await Admin.CreateQueueAsync("quiet");
        await Eventually.HoldsAsync(() => Ticking == 0, "the new, empty queue went quiet");

        await Broker.PublishAsync("quiet", new BrokerMessage("short-lived", [1]) { TimeToLive = TimeSpan.FromSeconds(1) });
        await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync("quiet")).Depth == 0, "the message's time to live ended");
        Assert.Equal(1, (await Admin.GetQueueInfoAsync("quiet")).Counters.Expired);
        await Eventually.HoldsAsync(() => Ticking == 0, "the queue went quiet again");
    }

    [Fact]
    public async Task A_delivery_out_keeps_the_timer_running_until_its_lease_ends_and_the_message_is_delivered_again()
    {
        await Admin.CreateQueueAsync("leased", new QueueOptions { LeaseDuration = TimeSpan.FromSeconds(1) });
        await Broker.PublishAsync("leased", new BrokerMessage("job", [1]));
        await Eventually.HoldsAsync(() => Ticking == 0, "the queue holding one ready message and no consumer went quiet");

        // Received and never settled: its lease ends on the queue's timer, with no other call to the queue meanwhile.
        var first = Assert.Single(await Broker.ReceiveAsync("leased"));
        Assert.Equal(1, first.Attempt);
        await Eventually.HoldsAsync(() => Ticking == 0, "the lease ended, the reminder was dropped and the queue went quiet");

        var again = Assert.Single(await Broker.ReceiveAsync("leased"));
        Assert.Equal(("job", 2), (again.MessageId, again.Attempt));
        await Broker.CompleteAsync(again);
        Assert.Equal(0, (await Admin.GetQueueInfoAsync("leased")).Depth);
    }
}
