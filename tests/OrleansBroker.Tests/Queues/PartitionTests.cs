using System.Collections.Concurrent;
using System.Text;
using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Topics;
using Xunit;

namespace OrleansBroker.Tests.Queues;

/// <summary>Partitioned queues on the SQLite file: placement by key, per-key order, one subscription over every partition, summed info.</summary>
public sealed class PartitionTests : BrokerClusterTest
{
    private static BrokerMessage Keyed(string key, int n) => new(null, Encoding.UTF8.GetBytes($"{key}:{n}"), OrderingKey: key);

    private static BrokerMessage Unkeyed(int n) => new(null, Encoding.UTF8.GetBytes($"free:{n}"));

    [Fact]
    public async Task Keyed_messages_keep_their_order_unkeyed_spread_and_two_consumers_share_every_partition()
    {
        const int Partitions = 4, Keys = 12, PerKey = 25, Free = 200;
        var created = await Admin.CreateQueueAsync("orders", new QueueOptions { Partitions = Partitions });
        Assert.Equal(Partitions, created.Partitions!.Count);

        // Per key in order, keys interleaved, in batches mixing keys and unkeyed messages.
        var messages = Enumerable.Range(0, PerKey).SelectMany(n => Enumerable.Range(0, Keys).Select(k => Keyed($"k{k}", n)))
            .Concat(Enumerable.Range(0, Free).Select(Unkeyed)).ToList();
        foreach (var batch in messages.Chunk(50))
        {
            await Broker.PublishBatchAsync("orders", batch);
        }

        var info = await Admin.GetQueueInfoAsync("orders");
        Assert.Equal(messages.Count, info.Ready);
        Assert.Equal(messages.Count, info.Counters.Published);
        Assert.Equal(["orders", "orders~1", "orders~2", "orders~3"], info.Partitions!.Select(p => p.Name));
        Assert.All(info.Partitions!, p => Assert.True(p.Ready > 0, $"{p.Name} holds none of the {messages.Count}"));

        // Every keyed message sits in its key's partition.
        for (var p = 0; p < Partitions; p++)
        {
            var peeked = await Broker.PeekAsync(QueuePartitions.NameOf("orders", p), max: 1000);
            Assert.All(peeked.Where(m => m.OrderingKey is not null), m => Assert.Equal(p, QueuePartitions.Of(m.OrderingKey!, Partitions)));
        }

        var handled = new ConcurrentQueue<(string Consumer, string Body)>();
        var byConsumer = new ConcurrentDictionary<string, ConcurrentDictionary<string, int>>();
        async Task<IBrokerConsumer> Consume(string name) => await Broker.ConsumeAsync("orders", async (delivery, _) =>
        {
            handled.Enqueue((name, Encoding.UTF8.GetString(delivery.Body)));
            byConsumer.GetOrAdd(name, _ => new()).AddOrUpdate(delivery.Queue, 1, (_, n) => n + 1);
            await Task.Yield();
        }, new ConsumerOptions { Prefetch = 8, Concurrency = 4 });
        await using var a = await Consume("a");
        await using var b = await Consume("b");

        await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync("orders")).Counters.Acked == messages.Count, "every message acked");
        var bodies = handled.Select(h => h.Body).ToList();
        Assert.Equal(messages.Count, bodies.Distinct().Count());
        Assert.Equal(messages.Count, bodies.Count);
        for (var k = 0; k < Keys; k++)
        {
            // The next message of a key is delivered only after the previous one was acked: handling order is publish order.
            var key = $"k{k}";
            Assert.Equal(Enumerable.Range(0, PerKey).Select(n => $"{key}:{n}"), bodies.Where(body => body.StartsWith(key + ":", StringComparison.Ordinal)));
        }

        // One subscription each, fed by every partition.
        Assert.All(new[] { "a", "b" }, c => Assert.Equal(Partitions, byConsumer[c].Count));
        var shareOfA = (double)handled.Count(h => h.Consumer == "a") / messages.Count;
        Assert.InRange(shareOfA, 0.25, 0.75);

        var done = await Admin.GetQueueInfoAsync("orders");
        Assert.Equal(0, done.Depth);
        Assert.Equal(2, done.Consumers);
    }

    [Fact]
    public async Task A_partitioned_queue_survives_a_restart_and_is_purged_and_deleted_whole()
    {
        await Admin.CreateQueueAsync("jobs", new QueueOptions { Partitions = 3 });
        await Broker.PublishBatchAsync("jobs", [.. Enumerable.Range(0, 90).Select(i => new BrokerMessage($"job-{i}", Encoding.UTF8.GetBytes($"{i}")))]);

        // A retry by id lands in the same partition, where deduplication sees it.
        await Broker.PublishAsync("jobs", new BrokerMessage("job-7", Encoding.UTF8.GetBytes("again")));

        await Cluster.RestartSilosAsync();
        var info = await Admin.GetQueueInfoAsync("jobs");
        Assert.Equal(90, info.Ready);
        Assert.Equal(3, info.Partitions!.Count);
        Assert.Equal(90, info.Partitions!.Sum(p => p.Ready));
        Assert.Equal(["jobs"], (await Admin.ListQueuesAsync()).Where(q => q.StartsWith("jobs", StringComparison.Ordinal)));

        Assert.Equal(90, await Admin.PurgeQueueAsync("jobs"));
        Assert.Equal(0, (await Admin.GetQueueInfoAsync("jobs")).Ready);

        await Admin.DeleteQueueAsync("jobs");
        foreach (var name in new[] { "jobs", "jobs~1", "jobs~2" })
        {
            var gone = await Assert.ThrowsAsync<BrokerException>(() => Admin.GetQueueInfoAsync(name));
            Assert.Equal(BrokerErrorCode.QueueNotFound, gone.Code);
        }
    }

    [Fact]
    public async Task A_topic_subscription_with_partitions_places_what_the_topic_sends_by_key()
    {
        await Admin.CreateTopicAsync("events");
        await Admin.CreateSubscriptionAsync("events", new Subscription("all", SubscriptionFilter.All, new QueueOptions { Partitions = 3 }));
        var sent = Enumerable.Range(0, 60).Select(i => new BrokerMessage(null, Encoding.UTF8.GetBytes($"{i}"), OrderingKey: $"customer-{i % 7}")).ToList();
        await Broker.PublishBatchToTopicAsync("events", sent);

        var info = await Admin.GetQueueInfoAsync("events/all");
        Assert.Equal(60, info.Ready);
        for (var p = 0; p < 3; p++)
        {
            var peeked = await Broker.PeekAsync(QueuePartitions.NameOf("events/all", p), max: 100);
            Assert.All(peeked, m => Assert.Equal(p, QueuePartitions.Of(m.OrderingKey!, 3)));
        }

        Assert.Equal(60, (await Broker.ReceiveAndAckAsync("events/all", 60, prefetch: 10)).Count);
    }

    [Fact]
    public async Task A_partition_refuses_keys_it_does_not_own_and_admin_calls_meant_for_its_queue()
    {
        await Admin.CreateQueueAsync("pay", new QueueOptions { Partitions = 3 });
        var key = Enumerable.Range(0, 100).Select(i => $"key-{i}").First(k => QueuePartitions.Of(k, 3) == 2);

        var wrong = await Assert.ThrowsAsync<BrokerException>(() => Broker.PublishAsync("pay~1", new BrokerMessage(null, [1], OrderingKey: key)));
        Assert.Equal(BrokerErrorCode.WrongPartition, wrong.Code);
        Assert.Contains("partition 2", wrong.Message, StringComparison.Ordinal);
        await Broker.PublishAsync("pay~2", new BrokerMessage(null, [1], OrderingKey: key));
        await Broker.PublishAsync("pay~1", new BrokerMessage(null, [2]));

        var create = await Assert.ThrowsAsync<BrokerException>(() => Admin.CreateQueueAsync("pay~1", new QueueOptions { Partitions = 3 }));
        Assert.Equal(BrokerErrorCode.InvalidName, create.Code);
        Assert.Contains("partition 1 of queue 'pay'", create.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<BrokerException>(() => Admin.DeleteQueueAsync("pay~2"));
        Assert.Equal(2, (await Admin.GetQueueInfoAsync("pay")).Ready);

        foreach (var count in new[] { 0, QueueOptions.MaxPartitions + 1 })
        {
            var invalid = await Assert.ThrowsAsync<BrokerException>(() => Admin.CreateQueueAsync($"bad{count}", new QueueOptions { Partitions = count }));
            Assert.Equal(BrokerErrorCode.InvalidOptions, invalid.Code);
        }
    }

    [Fact]
    public async Task A_client_that_knew_another_partition_count_places_its_publishes_again()
    {
        await Admin.CreateQueueAsync("swap", new QueueOptions { Partitions = 2 });
        await Broker.PublishAsync("swap", Keyed("warm", 0));

        // Recreated with more partitions behind this client's back: its cached count is stale.
        await Admin.DeleteQueueAsync("swap");
        await Admin.CreateQueueAsync("swap", new QueueOptions { Partitions = 5 });
        var keys = Enumerable.Range(0, 40).Select(i => $"c{i}").ToList();
        await Broker.PublishBatchAsync("swap", [.. keys.Select(k => Keyed(k, 1))]);

        var info = await Admin.GetQueueInfoAsync("swap");
        Assert.Equal(40, info.Ready);
        for (var p = 0; p < 5; p++)
        {
            var peeked = await Broker.PeekAsync(QueuePartitions.NameOf("swap", p), max: 100);
            Assert.All(peeked, m => Assert.Equal(p, QueuePartitions.Of(m.OrderingKey!, 5)));
        }
    }

    [Fact]
    public async Task Growing_under_a_consumer_keeps_every_keys_order_delivers_each_message_once_and_deduplicates_across_the_growth()
    {
        const int Keys = 12, PerKey = 20;
        await Admin.CreateQueueAsync("grow", new QueueOptions { Partitions = 2 });
        var keys = Enumerable.Range(0, Keys).Select(k => $"k{k}").ToList();
        Assert.Contains(keys, k => QueuePartitions.Of(k, 4) >= 2);

        // The first half of every key before the growth, through a client that caches 2 partitions.
        foreach (var batch in Enumerable.Range(0, PerKey / 2).SelectMany(n => keys.Select(k => Keyed(k, n))).Chunk(40))
        {
            await Broker.PublishBatchAsync("grow", batch);
        }

        var movedId = Enumerable.Range(0, 100).Select(i => $"order-{i}").First(id => QueuePartitions.Of(id, 4) != QueuePartitions.Of(id, 2));
        var first = await Broker.PublishAsync("grow", new BrokerMessage(movedId, Encoding.UTF8.GetBytes("once")));

        // A consumer that holds what it is given until the gate opens: the old partitions keep their keys' messages unsettled.
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var handled = new ConcurrentQueue<string>();
        var partitionsSeen = new ConcurrentDictionary<string, int>();
        await using var consumer = await Broker.ConsumeAsync("grow", async (delivery, _) =>
        {
            await gate.Task;
            handled.Enqueue(Encoding.UTF8.GetString(delivery.Body));
            partitionsSeen.TryAdd(delivery.Queue, 0);
        }, new ConsumerOptions { Prefetch = 8, Concurrency = 4 });
        await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync("grow")).InFlight > 0, "deliveries held by the consumer");

        var grown = await Admin.GrowPartitionsAsync("grow", 4);
        Assert.Equal(4, grown.Options.Partitions);
        Assert.Equal(["grow", "grow~1", "grow~2", "grow~3"], grown.Partitions!.Select(p => p.Name));
        Assert.All(grown.Partitions!.Skip(2), p => Assert.True(p.Held, $"{p.Name} is new and its keys are still held by the old partition"));

        // The second half, through the same client: its stale count is refused for moved keys and it places them again.
        foreach (var batch in Enumerable.Range(PerKey / 2, PerKey / 2).SelectMany(n => keys.Select(k => Keyed(k, n))).Chunk(40))
        {
            await Broker.PublishBatchAsync("grow", batch);
        }

        var again = await Broker.PublishAsync("grow", new BrokerMessage(movedId, Encoding.UTF8.GetBytes("twice")));
        Assert.Equal(first.Sequence, again.Sequence);
        for (var p = 2; p < 4; p++)
        {
            var peeked = await Broker.PeekAsync(QueuePartitions.NameOf("grow", p), max: 1000);
            Assert.NotEmpty(peeked);
            Assert.All(peeked.Where(m => m.OrderingKey is not null), m => Assert.Equal(p, QueuePartitions.Of(m.OrderingKey!, 4)));
        }

        gate.SetResult();
        var total = Keys * PerKey + 1;
        await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync("grow")).Counters.Acked == total, "every message acked");
        var bodies = handled.ToList();
        Assert.Equal(total, bodies.Count);
        Assert.Equal(total, bodies.Distinct().Count());
        Assert.Single(bodies, b => b == "once");
        foreach (var key in keys)
        {
            Assert.Equal(Enumerable.Range(0, PerKey).Select(n => $"{key}:{n}"), bodies.Where(b => b.StartsWith(key + ":", StringComparison.Ordinal)));
        }

        // The consumer was told to register again and took its share of the new partitions; none is held any more.
        Assert.Equal(4, partitionsSeen.Count);
        var done = await Admin.GetQueueInfoAsync("grow");
        Assert.Equal(0, done.Depth);
        Assert.All(done.Partitions!, p => Assert.False(p.Held, $"{p.Name} still held"));
    }

    [Fact]
    public async Task A_growth_survives_a_restart_refuses_counts_that_are_not_multiples_and_is_idempotent()
    {
        await Admin.CreateQueueAsync("steps");
        var moved = Enumerable.Range(0, 100).Select(i => $"s{i}").First(k => QueuePartitions.Of(k, 3) != 0);
        await Broker.PublishBatchAsync("steps", [.. Enumerable.Range(0, 5).Select(n => Keyed(moved, n))]);

        var invalid = await Assert.ThrowsAsync<BrokerException>(() => Admin.GrowPartitionsAsync("steps", 65));
        Assert.Equal(BrokerErrorCode.InvalidOptions, invalid.Code);
        await Admin.GrowPartitionsAsync("steps", 3);
        Assert.Equal(3, (await Admin.GrowPartitionsAsync("steps", 3)).Partitions!.Count);
        var notMultiple = await Assert.ThrowsAsync<BrokerException>(() => Admin.GrowPartitionsAsync("steps", 4));
        Assert.Equal(BrokerErrorCode.InvalidOptions, notMultiple.Code);
        Assert.Contains("multiple", notMultiple.Message, StringComparison.Ordinal);
        var onPartition = await Assert.ThrowsAsync<BrokerException>(() => Admin.GrowPartitionsAsync("steps~1", 6));
        Assert.Equal(BrokerErrorCode.InvalidName, onPartition.Code);

        // The key moved to a new partition while its first five messages wait in partition 0: the new ones stay held, also
        // across a restart, and come after the first five.
        await Broker.PublishBatchAsync("steps", [.. Enumerable.Range(5, 5).Select(n => Keyed(moved, n))]);
        await Cluster.RestartSilosAsync();
        var info = await Admin.GetQueueInfoAsync("steps");
        Assert.Equal(10, info.Ready);
        var target = QueuePartitions.NameOf("steps", QueuePartitions.Of(moved, 3));
        Assert.True(info.Partitions!.Single(p => p.Name == target).Held);
        Assert.Equal(5, info.Partitions!.Single(p => p.Name == target).Ready);

        var received = await Broker.ReceiveAndAckAsync("steps", 10, prefetch: 4);
        Assert.Equal(Enumerable.Range(0, 10).Select(n => $"{moved}:{n}"), received.Select(d => Encoding.UTF8.GetString(d.Body)));
        await Eventually.HoldsAsync(async () => !(await Admin.GetQueueInfoAsync("steps")).Partitions!.Any(p => p.Held), "no partition held");

        // Deleted and created again with the grown count: nothing of the growth is left (no partition held).
        await Admin.DeleteQueueAsync("steps");
        var recreated = await Admin.CreateQueueAsync("steps", new QueueOptions { Partitions = 3 });
        Assert.All(recreated.Partitions!, p => Assert.False(p.Held, $"{p.Name} held after the queue was created again"));
        await Broker.PublishAsync("steps", Keyed(moved, 0));
        Assert.Single(await Broker.ReceiveAndAckAsync("steps", 1));
    }

    [Fact]
    public async Task A_partitioned_topic_routes_each_key_through_its_own_partition_to_every_subscription()
    {
        const int Partitions = 3;
        await Admin.CreateTopicAsync("feed", new TopicOptions { Partitions = Partitions });
        await Admin.CreateSubscriptionAsync("feed", new Subscription("audit", SubscriptionFilter.All, new QueueOptions()));

        // A subscription added later reaches every partition before the call returns; it survives a restart.
        await Admin.CreateSubscriptionAsync("feed", new Subscription("billing", SubscriptionFilter.All, new QueueOptions { Partitions = 2 }));
        await Cluster.RestartSilosAsync();

        var messages = Enumerable.Range(0, 90).Select(i => Keyed($"c{i % 9}", i / 9)).Concat(Enumerable.Range(0, 30).Select(Unkeyed)).ToList();
        foreach (var batch in messages.Chunk(25))
        {
            var receipts = await Broker.PublishBatchToTopicAsync("feed", batch);
            Assert.All(receipts, r => Assert.Equal(["audit", "billing"], r.Subscriptions));
        }

        // Each partition routed a share, and together every message once.
        var shares = new List<long>();
        for (var p = 1; p < Partitions; p++)
        {
            shares.Add((await Admin.GetTopicInfoAsync(QueuePartitions.NameOf("feed", p))).Published);
        }

        var info = await Admin.GetTopicInfoAsync("feed");
        Assert.Equal(messages.Count, info.Published);
        Assert.Equal(Partitions, info.Options!.Partitions);
        Assert.All(shares, share => Assert.InRange(share, 1, messages.Count - 1));
        foreach (var subscription in new[] { "feed/audit", "feed/billing" })
        {
            var received = await Broker.ReceiveAndAckAsync(subscription, messages.Count, prefetch: 20);
            Assert.Equal(messages.Count, received.Select(d => Encoding.UTF8.GetString(d.Body)).Distinct().Count());
        }

        // A partition takes only its own keys and none of the topic's administration.
        var key = Enumerable.Range(0, 50).Select(i => $"x{i}").First(k => QueuePartitions.Of(k, Partitions) == 2);
        var wrong = await Assert.ThrowsAsync<BrokerException>(() => Broker.PublishToTopicAsync("feed~1", new BrokerMessage(null, [1], OrderingKey: key)));
        Assert.Equal(BrokerErrorCode.WrongPartition, wrong.Code);
        var admin = await Assert.ThrowsAsync<BrokerException>(() => Admin.CreateSubscriptionAsync("feed~1", new Subscription("x", SubscriptionFilter.All, new QueueOptions())));
        Assert.Equal(BrokerErrorCode.InvalidName, admin.Code);

        await Admin.DeleteTopicAsync("feed");
        var gone = await Assert.ThrowsAsync<BrokerException>(() => Admin.GetTopicInfoAsync("feed~2"));
        Assert.Equal(BrokerErrorCode.TopicNotFound, gone.Code);
    }
}
