using System.Text;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Topics;
using Xunit;

namespace OrleansBroker.Tests.Topics;

/// <summary>Retention and replay on the SQLite file: new subscriptions from the earliest or a timestamp, re-seek, across a restart.</summary>
public sealed class RetentionTests : BrokerClusterTest
{
    private Task Publish(string id) => Broker.PublishToTopicAsync("feed", new BrokerMessage(id, Encoding.UTF8.GetBytes(id), RoutingKey: "feed.item"));

    private Task Subscribe(string name, DateTimeOffset? replayFrom = null) =>
        Admin.CreateSubscriptionAsync("feed", new Subscription(name, SubscriptionFilter.All, new QueueOptions()), replayFrom);

    private async Task<string[]> Drain(string subscription, int count) =>
        [.. (await Broker.ReceiveAndAckAsync($"feed/{subscription}", count, prefetch: 10)).Select(d => d.MessageId).Order(StringComparer.Ordinal)];

    [Fact]
    public async Task New_subscriptions_replay_from_the_earliest_or_a_timestamp_and_a_seek_delivers_again_after_a_restart()
    {
        await Admin.CreateTopicAsync("feed", new TopicOptions { RetentionTime = TimeSpan.FromHours(1) });
        await Subscribe("live");
        await Publish("e1");
        var mark = DateTimeOffset.UtcNow;
        await Publish("e2");
        await Publish("e3");

        await Cluster.RestartSilosAsync();

        await Subscribe("all", DateTimeOffset.MinValue);
        await Subscribe("since", mark);
        await Subscribe("new");
        Assert.Equal(["e1", "e2", "e3"], await Drain("all", 3));
        Assert.Equal(["e2", "e3"], await Drain("since", 2));

        // Published from now on: every subscription gets it live, the replayed ones included.
        await Publish("e4");
        Assert.Equal(["e4"], await Drain("new", 1));
        Assert.Equal(["e4"], await Drain("all", 1));
        Assert.Equal(["e4"], await Drain("since", 1));
        Assert.Equal(["e1", "e2", "e3", "e4"], await Drain("live", 4));

        // Everything acked; seeking back to the mark delivers e2..e4 again, e1 stays acked.
        await Admin.SeekSubscriptionAsync("feed", "live", mark);
        Assert.Equal(["e2", "e3", "e4"], await Drain("live", 3));
        foreach (var subscription in new[] { "live", "all", "since", "new" })
        {
            Assert.Equal(0, (await Admin.GetQueueInfoAsync($"feed/{subscription}")).Depth);
        }

        var info = await Admin.GetTopicInfoAsync("feed");
        Assert.DoesNotContain(info.Subscriptions, s => s.Name == TopicOptions.RetainedSubscription);
        Assert.Equal(TimeSpan.FromHours(1), info.Options!.RetentionTime);
    }

    [Fact]
    public async Task Replay_needs_a_retaining_topic_and_the_retained_name_is_reserved()
    {
        await Admin.CreateTopicAsync("plain");
        var replay = await Assert.ThrowsAsync<BrokerException>(() =>
            Admin.CreateSubscriptionAsync("plain", new Subscription("s", SubscriptionFilter.All, new QueueOptions()), DateTimeOffset.MinValue));
        Assert.Equal(BrokerErrorCode.InvalidOptions, replay.Code);

        await Admin.CreateTopicAsync("kept", new TopicOptions { RetentionBytes = 1000 });
        var reserved = await Assert.ThrowsAsync<BrokerException>(() =>
            Admin.CreateSubscriptionAsync("kept", new Subscription(TopicOptions.RetainedSubscription, SubscriptionFilter.All, new QueueOptions())));
        Assert.Equal(BrokerErrorCode.InvalidName, reserved.Code);
        var other = await Assert.ThrowsAsync<BrokerException>(() => Admin.CreateTopicAsync("kept", new TopicOptions { RetentionBytes = 2000 }));
        Assert.Equal(BrokerErrorCode.QueueExistsWithOtherOptions, other.Code);

        // The byte limit drops the oldest retained messages: 30 bodies of 100 bytes keep the last 10.
        for (var i = 0; i < 30; i++)
        {
            await Broker.PublishToTopicAsync("kept", new BrokerMessage($"k{i:00}", new byte[100]));
        }

        await Admin.CreateSubscriptionAsync("kept", new Subscription("late", SubscriptionFilter.All, new QueueOptions()), DateTimeOffset.MinValue);
        var replayed = await Broker.ReceiveAndAckAsync("kept/late", 10, prefetch: 10);
        Assert.Equal(Enumerable.Range(20, 10).Select(i => $"k{i:00}"), replayed.Select(d => d.MessageId).Order(StringComparer.Ordinal));
        Assert.Equal(1000, (await Admin.GetQueueInfoAsync("kept/retained")).Bytes);
    }
}
