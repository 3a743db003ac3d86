using System.Text;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Topics;
using Xunit;

namespace OrleansBroker.Tests.Topics;

/// <summary>Topics on the SQLite file: durable fan-out through filters, offline subscribers, redrive within one subscription.</summary>
public sealed class TopicTests : BrokerClusterTest
{
    private static BrokerMessage Order(string id, string key, string region, int amount) =>
        new(id, Encoding.UTF8.GetBytes(id), "text/plain", new Dictionary<string, string> { ["region"] = region, ["amount"] = $"{amount}" }, key);

    [Fact]
    public async Task Each_subscription_gets_exactly_its_matches_held_for_offline_subscribers_across_a_restart()
    {
        await Admin.CreateTopicAsync("orders");
        var queue = new QueueOptions();
        await Admin.CreateSubscriptionAsync("orders", new Subscription("audit", SubscriptionFilter.All, queue));
        await Admin.CreateSubscriptionAsync("orders", new Subscription("created", new SubscriptionFilter(["orders.*.created"]), queue));
        await Admin.CreateSubscriptionAsync("orders", new Subscription("eu", new SubscriptionFilter(Headers: [new HeaderPredicate("region", HeaderMatch.Prefix, ["eu-"])]), queue));
        await Admin.CreateSubscriptionAsync("orders", new Subscription("big-eu-created", new SubscriptionFilter(["orders.#.created"],
            [new HeaderPredicate("region", HeaderMatch.Prefix, ["eu-"]), new HeaderPredicate("amount", HeaderMatch.Range, Min: 100)]), queue));

        BrokerMessage[] published =
        [
            Order("o1", "orders.web.created", "eu-west", 50),
            Order("o2", "orders.web.created", "us-east", 500),
            Order("o3", "orders.web.shipped", "eu-north", 500),
            Order("o4", "orders.app.mobile.created", "eu-west", 150),
            Order("o5", "payments.captured", "us-east", 10),
        ];
        var receipts = await Broker.PublishBatchToTopicAsync("orders", published);
        Assert.Equal(["audit", "created", "eu"], receipts[0].Subscriptions);
        Assert.Equal(["audit", "big-eu-created", "eu"], receipts[3].Subscriptions);

        // Nobody consumed yet: every subscription holds its share durably.
        await Cluster.RestartSilosAsync();

        async Task<string[]> Ids(string subscription, int expected) =>
            [.. (await Broker.ReceiveAndAckAsync($"orders/{subscription}", expected)).Select(d => d.MessageId).Order(StringComparer.Ordinal)];
        Assert.Equal(["o1", "o2", "o3", "o4", "o5"], await Ids("audit", 5));
        Assert.Equal(["o1", "o2"], await Ids("created", 2));
        Assert.Equal(["o1", "o3", "o4"], await Ids("eu", 3));
        Assert.Equal(["o4"], await Ids("big-eu-created", 1));
        foreach (var subscription in new[] { "audit", "created", "eu", "big-eu-created" })
        {
            Assert.Equal(0, (await Admin.GetQueueInfoAsync($"orders/{subscription}")).Depth);
        }

        var info = await Admin.GetTopicInfoAsync("orders");
        Assert.Equal(4, info.Subscriptions.Count);
        Assert.Equal(["orders"], await Admin.ListTopicsAsync());
        Assert.Contains("orders/eu", await Admin.ListQueuesAsync());
    }

    [Fact]
    public async Task A_dead_letter_of_one_subscription_is_redriven_to_that_subscription_only()
    {
        await Admin.CreateTopicAsync("events");
        await Admin.CreateSubscriptionAsync("events", new Subscription("fragile", SubscriptionFilter.All, new QueueOptions { MaxDeliveryAttempts = 1 }));
        await Admin.CreateSubscriptionAsync("events", new Subscription("steady", SubscriptionFilter.All, new QueueOptions()));
        await Broker.PublishToTopicAsync("events", new BrokerMessage("e1", Encoding.UTF8.GetBytes("payload"), RoutingKey: "thing.happened"));

        await foreach (var delivery in Broker.ReadWithTimeoutAsync("events/fragile"))
        {
            await Broker.DeadLetterAsync(delivery, "cannot handle");
            break;
        }

        await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync("events/fragile")).Counters.DeadLettered == 1, "dead-lettered");
        await Cluster.RestartSilosAsync();

        var dead = Assert.Single(await Broker.PeekAsync("events/fragile.dlq"));
        Assert.Equal("events/fragile", dead.Headers![BrokerHeaders.SourceQueue]);
        Assert.Equal(new RedriveResult(1, 0), await Admin.RedriveAsync("events/fragile.dlq"));

        var again = Assert.Single(await Broker.ReceiveAndAckAsync("events/fragile", 1));
        Assert.Equal("e1", again.MessageId);
        Assert.Equal("thing.happened", again.RoutingKey);
        var steady = await Admin.GetQueueInfoAsync("events/steady");
        Assert.Equal(1, steady.Depth);
        Assert.Equal(1, steady.Counters.Published);
    }

    [Fact]
    public async Task Bad_subscriptions_get_typed_errors_and_unsubscribe_and_delete_remove_the_queues()
    {
        var missing = await Assert.ThrowsAsync<BrokerException>(() => Broker.PublishToTopicAsync("nowhere", new BrokerMessage(null, [1])));
        Assert.Equal(BrokerErrorCode.TopicNotFound, missing.Code);

        await Admin.CreateTopicAsync("t");
        var filter = await Assert.ThrowsAsync<BrokerException>(() => Admin.CreateSubscriptionAsync("t", new Subscription("s", new SubscriptionFilter(["a..b"]), new QueueOptions())));
        Assert.Equal(BrokerErrorCode.InvalidFilter, filter.Code);
        var name = await Assert.ThrowsAsync<BrokerException>(() => Admin.CreateSubscriptionAsync("t", new Subscription("a/b", SubscriptionFilter.All, new QueueOptions())));
        Assert.Equal(BrokerErrorCode.InvalidName, name.Code);

        await Admin.CreateSubscriptionAsync("t", new Subscription("s", new SubscriptionFilter(["a.*"]), new QueueOptions()));
        await Admin.CreateSubscriptionAsync("t", new Subscription("s", new SubscriptionFilter(["a.*"]), new QueueOptions())); // same: a no-op
        var other = await Assert.ThrowsAsync<BrokerException>(() => Admin.CreateSubscriptionAsync("t", new Subscription("s", new SubscriptionFilter(["b.*"]), new QueueOptions())));
        Assert.Equal(BrokerErrorCode.QueueExistsWithOtherOptions, other.Code);

        var direct = await Assert.ThrowsAsync<BrokerException>(() => Admin.CreateQueueAsync("t/direct"));
        Assert.Equal(BrokerErrorCode.QueueNotFound, direct.Code);

        var unrouted = await Broker.PublishToTopicAsync("t", new BrokerMessage(null, [1], RoutingKey: "b.c"));
        Assert.Empty(unrouted.Subscriptions);
        Assert.Equal(1, (await Admin.GetTopicInfoAsync("t")).Unrouted);

        await Admin.DeleteSubscriptionAsync("t", "s");
        Assert.Equal(BrokerErrorCode.QueueNotFound, (await Assert.ThrowsAsync<BrokerException>(() => Admin.GetQueueInfoAsync("t/s"))).Code);

        await Admin.CreateSubscriptionAsync("t", new Subscription("s2", SubscriptionFilter.All, new QueueOptions()));
        await Admin.DeleteTopicAsync("t");
        Assert.Equal(BrokerErrorCode.QueueNotFound, (await Assert.ThrowsAsync<BrokerException>(() => Admin.GetQueueInfoAsync("t/s2"))).Code);
        Assert.Empty(await Admin.ListTopicsAsync());
    }
}
