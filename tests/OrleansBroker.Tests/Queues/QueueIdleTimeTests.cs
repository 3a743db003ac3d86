using System.Globalization;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Queues;

/// <summary><c>Broker:QueueIdleTime</c>: a queue nobody calls gives its memory back, and comes back whole on the next call.</summary>
public sealed class QueueIdleTimeTests : BrokerClusterTest
{
    protected override Task<BrokerCluster> StartAsync() => BrokerCluster.StartAsync(options => options.QueueIdleTime = TimeSpan.FromSeconds(10));

    [Fact]
    public async Task A_queue_nobody_calls_is_deactivated_after_its_idle_time_and_the_next_receive_brings_it_back_with_its_message()
    {
        await Admin.CreateQueueAsync("now-and-then");
        await Broker.PublishAsync("now-and-then", new BrokerMessage("kept", [1, 2, 3]));
        Assert.Equal(1, await Cluster.QueueActivationsAsync());

        await Eventually.HoldsAsync(async () => await Cluster.QueueActivationsAsync() == 0, "the idle queue was deactivated", TimeSpan.FromMinutes(2));

        var delivery = Assert.Single(await Broker.ReceiveAsync("now-and-then"));
        Assert.Equal("kept", delivery.MessageId);
        Assert.Equal([1, 2, 3], delivery.Body);
        Assert.Equal(1, await Cluster.QueueActivationsAsync());
        await Broker.CompleteAsync(delivery);
    }
}

/// <summary>The range of <c>Broker:QueueIdleTime</c>.</summary>
public sealed class QueueIdleTimeOptionTests
{
    [Theory]
    [InlineData("00:00:09")]
    [InlineData("7.00:00:01")]
    public void An_idle_time_out_of_range_is_refused_naming_the_setting(string idle)
    {
        var refused = Assert.Throws<BrokerException>(() => new BrokerOptions { QueueIdleTime = TimeSpan.Parse(idle, CultureInfo.InvariantCulture) }.Validate());
        Assert.Equal(BrokerErrorCode.InvalidOptions, refused.Code);
        Assert.Contains("Broker:QueueIdleTime", refused.Message, StringComparison.Ordinal);
    }
}
