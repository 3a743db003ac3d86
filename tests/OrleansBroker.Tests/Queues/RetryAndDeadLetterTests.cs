using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Queues;

/// <summary>Broker-side retry backoff, dead-letter browsing and redrive, each across a silo restart, on the SQLite file.</summary>
public sealed class RetryAndDeadLetterTests : BrokerClusterTest
{
    [Fact]
    public async Task A_message_whose_handler_always_throws_is_retried_1_s_then_2_s_apart_dead_lettered_and_redriven_after_a_restart()
    {
        var options = new QueueOptions { MaxDeliveryAttempts = 3, Retry = RetryPolicy.ExponentialBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)) };
        await Admin.CreateQueueAsync("backoff", options);
        var headers = new Dictionary<string, string> { ["tenant"] = "acme" };
        await Broker.PublishAsync("backoff", new BrokerMessage("order-1", Encoding.UTF8.GetBytes("pay"), "text/plain", headers));

        var clock = Stopwatch.StartNew();
        var attempts = new ConcurrentQueue<(int Attempt, TimeSpan At)>();
        await using (await Broker.ConsumeAsync("backoff", (delivery, _) =>
        {
            attempts.Enqueue((delivery.Attempt, clock.Elapsed));
            throw new InvalidOperationException("payment service down");
        }))
        {
            await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync("backoff")).Counters.DeadLettered == 1, "the message was dead-lettered");
        }

        var seen = attempts.ToArray();
        Assert.Equal([1, 2, 3], seen.Select(a => a.Attempt));
        var firstWait = seen[1].At - seen[0].At;
        var secondWait = seen[2].At - seen[1].At;
        Assert.InRange(firstWait.TotalSeconds, 0.95, 2.5);
        Assert.InRange(secondWait.TotalSeconds, 1.95, 4);

        await Cluster.RestartSilosAsync();

        var dead = Assert.Single(await Broker.PeekAsync("backoff.dlq"));
        Assert.Equal("order-1", dead.MessageId);
        Assert.Equal(MessageState.Ready, dead.State);
        Assert.Equal("backoff", dead.Headers![BrokerHeaders.SourceQueue]);
        Assert.Equal("delivery attempts exhausted (3 of 3)", dead.Headers[BrokerHeaders.DeadLetterReason]);
        Assert.Single(await Broker.PeekAsync("backoff.dlq")); // peeking consumed nothing

        Assert.Equal(new RedriveResult(1, 0), await Admin.RedriveAsync("backoff.dlq"));
        var again = Assert.Single(await Broker.ReceiveAndAckAsync("backoff", 1));
        Assert.Equal("order-1", again.MessageId);
        Assert.Equal(1, again.Attempt);
        Assert.Equal("pay", again.BodyText());
        Assert.Equal(headers, again.Headers);
        Assert.Equal(0, (await Admin.GetQueueInfoAsync("backoff.dlq")).Depth);
    }

    [Fact]
    public async Task A_nack_with_its_own_delay_is_held_back_across_a_silo_restart_and_delivered_after_it()
    {
        await Admin.CreateQueueAsync("later");
        await Broker.PublishAsync("later", "retry me", "m1");
        var clock = Stopwatch.StartNew();
        await foreach (var delivery in Broker.ReadWithTimeoutAsync("later"))
        {
            await Broker.AbandonAsync(delivery, TimeSpan.FromSeconds(10));
            break;
        }

        var nackedAt = clock.Elapsed;
        await Cluster.RestartSilosAsync();

        // Checked while the wait is surely not over (a restart takes seconds; on a very slow machine it may not be).
        var info = await Admin.GetQueueInfoAsync("later");
        if (clock.Elapsed - nackedAt < TimeSpan.FromSeconds(9))
        {
            Assert.Equal(1, info.Delayed);
            Assert.Equal(MessageState.Delayed, Assert.Single(await Broker.PeekAsync("later")).State);
        }

        var again = Assert.Single(await Broker.ReceiveAndAckAsync("later", 1));
        Assert.True(clock.Elapsed - nackedAt >= TimeSpan.FromSeconds(9.9), $"delivered {clock.Elapsed - nackedAt} after a 10 s retry delay");
        Assert.Equal("m1", again.MessageId);
        Assert.Equal(2, again.Attempt);
    }

    [Fact]
    public async Task Redrive_moves_what_is_asked_by_id_or_count_oldest_first_and_leaves_messages_without_a_source()
    {
        await Admin.CreateQueueAsync("orders");
        await Broker.PublishBatchAsync("orders", [.. Enumerable.Range(1, 3).Select(i => new BrokerMessage($"o{i}", Encoding.UTF8.GetBytes($"{i}")))]);
        await foreach (var delivery in Broker.ReadWithTimeoutAsync("orders", new ConsumerOptions { Prefetch = 3 }))
        {
            await Broker.DeadLetterAsync(delivery, "bad order");
            if (delivery.MessageId == "o3")
            {
                break;
            }
        }

        await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync("orders")).Counters.DeadLettered == 3, "three dead letters");
        await Broker.PublishAsync("orders.dlq", "put here by hand", "stray");
        await Cluster.RestartSilosAsync();

        var peeked = await Broker.PeekAsync("orders.dlq", max: 2);
        Assert.Equal(["o1", "o2"], peeked.Select(p => p.MessageId));
        Assert.Equal(["o3", "stray"], (await Broker.PeekAsync("orders.dlq", afterSequence: peeked[^1].Sequence)).Select(p => p.MessageId));
        Assert.Equal("bad order", peeked[0].Headers![BrokerHeaders.DeadLetterReason]);

        Assert.Equal(new RedriveResult(1, 0), await Admin.RedriveAsync("orders.dlq", new RedriveRequest(MessageIds: ["o2"])));
        Assert.Equal(new RedriveResult(1, 0), await Admin.RedriveAsync("orders.dlq", new RedriveRequest(Max: 1)));
        Assert.Equal(["o3", "stray"], (await Broker.PeekAsync("orders.dlq")).Select(p => p.MessageId));
        Assert.Equal(new RedriveResult(1, 1), await Admin.RedriveAsync("orders.dlq"));
        Assert.Equal(["stray"], (await Broker.PeekAsync("orders.dlq")).Select(p => p.MessageId));

        var back = await Broker.ReceiveAndAckAsync("orders", 3, prefetch: 3);
        Assert.Equal(["o1", "o2", "o3"], back.Select(d => d.MessageId).Order());
        Assert.All(back, d => Assert.Null(d.Headers));
    }

    [Fact]
    public async Task Bad_retry_settings_are_refused_with_a_typed_error_naming_them()
    {
        var multiplier = await Assert.ThrowsAsync<BrokerException>(() => Admin.CreateQueueAsync("bad-retry",
            new QueueOptions { Retry = RetryPolicy.ExponentialBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1), multiplier: 0.5) }));
        Assert.Equal(BrokerErrorCode.InvalidOptions, multiplier.Code);
        Assert.Contains("multiplier", multiplier.Message, StringComparison.OrdinalIgnoreCase);

        var cap = await Assert.ThrowsAsync<BrokerException>(() => Admin.CreateQueueAsync("bad-retry",
            new QueueOptions { Retry = RetryPolicy.ExponentialBackoff(TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(1)) }));
        Assert.Contains("max delay", cap.Message, StringComparison.OrdinalIgnoreCase);

        await Admin.CreateQueueAsync("retry-range");
        await Broker.PublishAsync("retry-range", "x", "x1");
        await foreach (var delivery in Broker.ReadWithTimeoutAsync("retry-range"))
        {
            var tooLong = await Assert.ThrowsAsync<BrokerException>(() => Broker.AbandonAsync(delivery, TimeSpan.FromDays(8)));
            Assert.Equal(BrokerErrorCode.InvalidOptions, tooLong.Code);

            // Refused as a whole: the delivery is still leased and can be acked.
            await Broker.CompleteAsync(delivery);
            break;
        }

        Assert.Equal(0, (await Admin.GetQueueInfoAsync("retry-range")).Depth);
    }
}
