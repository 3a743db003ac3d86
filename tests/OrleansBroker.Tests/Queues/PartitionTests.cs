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
        var created = await Broker.CreateQueueAsync("orders", new QueueOptions { Partitions = Partitions });
        Assert.Equal(Partitions, created.Partitions!.Count);

        // Per key in order, keys interleaved, in batches mixing keys and unkeyed messages.
        var messages = Enumerable.Range(0, PerKey).SelectMany(n => Enumerable.Range(0, Keys).Select(k => Keyed($"k{k}", n)))
            .Concat(Enumerable.Range(0, Free).Select(Unkeyed)).ToList();
        foreach (var batch in messages.Chunk(50))
        {
            await Broker.PublishBatchAsync("orders", batch);
        }

        var info = await Broker.GetQueueInfoAsync("orders");
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

        await Eventually.HoldsAsync(async () => (await Broker.GetQueueInfoAsync("orders")).Counters.Acked == messages.Count, "every message acked");
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

        var done = await Broker.GetQueueInfoAsync("orders");
        Assert.Equal(0, done.Depth);
        Assert.Equal(2, done.Consumers);
    }

    [Fact]
    public async Task A_partitioned_queue_survives_a_restart_and_is_purged_and_deleted_whole()
    {
        await Broker.CreateQueueAsync("jobs", new QueueOptions { Partitions = 3 });
        await Broker.PublishBatchAsync("jobs", [.. Enumerable.Range(0, 90).Select(i => new BrokerMessage($"job-{i}", Encoding.UTF8.GetBytes($"{i}")))]);

        // A retry by id lands in the same partition, where deduplication sees it.
        await Broker.PublishAsync("jobs", new BrokerMessage("job-7", Encoding.UTF8.GetBytes("again")));

        await Cluster.RestartSilosAsync();
        var info = await Broker.GetQueueInfoAsync("jobs");
        Assert.Equal(90, info.Ready);
        Assert.Equal(3, info.Partitions!.Count);
        Assert.Equal(90, info.Partitions!.Sum(p => p.Ready));
        Assert.Equal(["jobs"], (await Broker.ListQueuesAsync()).Where(q => q.StartsWith("jobs", StringComparison.Ordinal)));

        Assert.Equal(90, await Broker.PurgeQueueAsync("jobs"));
        Assert.Equal(0, (await Broker.GetQueueInfoAsync("jobs")).Ready);

        await Broker.DeleteQueueAsync("jobs");
        foreach (var name in new[] { "jobs", "jobs~1", "jobs~2" })
        {
            var gone = await Assert.ThrowsAsync<BrokerException>(() => Broker.GetQueueInfoAsync(name));
            Assert.Equal(BrokerErrorCode.QueueNotFound, gone.Code);
        }
    }

    [Fact]
    public async Task A_topic_subscription_with_partitions_places_what_the_topic_sends_by_key()
    {
        await Broker.CreateTopicAsync("events");
        await Broker.SubscribeAsync("events", new Subscription("all", SubscriptionFilter.All, new QueueOptions { Partitions = 3 }));
        var sent = Enumerable.Range(0, 60).Select(i => new BrokerMessage(null, Encoding.UTF8.GetBytes($"{i}"), OrderingKey: $"customer-{i % 7}")).ToList();
        await Broker.PublishBatchToTopicAsync("events", sent);

        var info = await Broker.GetQueueInfoAsync("events/all");
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
        await Broker.CreateQueueAsync("pay", new QueueOptions { Partitions = 3 });
        var key = Enumerable.Range(0, 100).Select(i => $"key-{i}").First(k => QueuePartitions.Of(k, 3) == 2);

        var wrong = await Assert.ThrowsAsync<BrokerException>(() => Broker.PublishAsync("pay~1", new BrokerMessage(null, [1], OrderingKey: key)));
        Assert.Equal(BrokerErrorCode.WrongPartition, wrong.Code);
        Assert.Contains("partition 2", wrong.Message, StringComparison.Ordinal);
        await Broker.PublishAsync("pay~2", new BrokerMessage(null, [1], OrderingKey: key));
        await Broker.PublishAsync("pay~1", new BrokerMessage(null, [2]));

        var create = await Assert.ThrowsAsync<BrokerException>(() => Broker.CreateQueueAsync("pay~1", new QueueOptions { Partitions = 3 }));
        Assert.Equal(BrokerErrorCode.InvalidName, create.Code);
        Assert.Contains("partition 1 of queue 'pay'", create.Message, StringComparison.Ordinal);
        await Assert.ThrowsAsync<BrokerException>(() => Broker.DeleteQueueAsync("pay~2"));
        Assert.Equal(2, (await Broker.GetQueueInfoAsync("pay")).Ready);

        foreach (var count in new[] { 0, QueueOptions.MaxPartitions + 1 })
        {
            var invalid = await Assert.ThrowsAsync<BrokerException>(() => Broker.CreateQueueAsync($"bad{count}", new QueueOptions { Partitions = count }));
            Assert.Equal(BrokerErrorCode.InvalidOptions, invalid.Code);
        }
    }

    [Fact]
    public async Task A_client_that_knew_another_partition_count_places_its_publishes_again()
    {
        await Broker.CreateQueueAsync("swap", new QueueOptions { Partitions = 2 });
        await Broker.PublishAsync("swap", Keyed("warm", 0));

        // Recreated with more partitions behind this client's back: its cached count is stale.
        await Broker.DeleteQueueAsync("swap");
        await Broker.CreateQueueAsync("swap", new QueueOptions { Partitions = 5 });
        var keys = Enumerable.Range(0, 40).Select(i => $"c{i}").ToList();
        await Broker.PublishBatchAsync("swap", [.. keys.Select(k => Keyed(k, 1))]);

        var info = await Broker.GetQueueInfoAsync("swap");
        Assert.Equal(40, info.Ready);
        for (var p = 0; p < 5; p++)
        {
            var peeked = await Broker.PeekAsync(QueuePartitions.NameOf("swap", p), max: 100);
            Assert.All(peeked, m => Assert.Equal(p, QueuePartitions.Of(m.OrderingKey!, 5)));
        }
    }
}
