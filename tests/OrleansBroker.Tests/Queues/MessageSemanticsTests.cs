using System.Collections.Concurrent;
using System.Text;
using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Queues;

/// <summary>
/// Scheduled delivery, time to live, priority, ordering keys, deduplication and length limits: each on the
/// SQLite file, each across a silo restart in the middle.
/// </summary>
public sealed class MessageSemanticsTests : BrokerClusterTest
{
    private static BrokerMessage Text(string id, string body) => new(id, Encoding.UTF8.GetBytes(body), "text/plain");

    [Fact]
    public async Task Scheduled_messages_wait_for_their_time_across_a_restart_and_come_within_a_second_of_it()
    {
        await Admin.CreateQueueAsync("scheduled");
        var longWait = DateTimeOffset.UtcNow.AddSeconds(12);
        await Broker.PublishAsync("scheduled", Text("at", "deliver at") with { DeliverAt = longWait });
        await Broker.PublishAsync("scheduled", Text("now", "at once"));

        await Cluster.RestartSilosAsync();
        var info = await Admin.GetQueueInfoAsync("scheduled");
        Assert.Equal(2, info.Depth);
        if (DateTimeOffset.UtcNow < longWait.AddSeconds(-1))
        {
            Assert.Equal(1, info.Delayed);
            Assert.Equal(MessageState.Delayed, (await Broker.PeekAsync("scheduled")).Single(m => m.MessageId == "at").State);
        }

        var received = new ConcurrentQueue<(string Id, DateTimeOffset At)>();
        await using (await Broker.ConsumeAsync("scheduled", (d, _) =>
        {
            received.Enqueue((d.MessageId, DateTimeOffset.UtcNow));
            return Task.CompletedTask;
        }))
        {
            // Published while the consumer waits: a short delay, timed on the broker's clock.
            var publishedAt = DateTimeOffset.UtcNow;
            await Broker.PublishAsync("scheduled", Text("delayed", "in 3 s") with { Delay = TimeSpan.FromSeconds(3) });
            await Eventually.HoldsAsync(() => received.Count == 3, "all three delivered", TimeSpan.FromSeconds(60));

            var byId = received.ToDictionary(r => r.Id, r => r.At);
            Assert.True(byId["now"] < byId["delayed"]);
            Assert.InRange((byId["delayed"] - publishedAt).TotalSeconds, 2.95, 4.5);
            Assert.InRange((byId["at"] - longWait).TotalSeconds, -0.05, 1);
        }
    }

    [Fact]
    public async Task Expired_messages_are_never_delivered_and_go_to_the_dead_letter_queue_when_asked_also_across_a_restart()
    {
        await Admin.CreateQueueAsync("ttl", new QueueOptions { DefaultTimeToLive = TimeSpan.FromSeconds(3), DeadLetterExpired = true });
        await Admin.CreateQueueAsync("ttl-drop");
        await Broker.PublishAsync("ttl", Text("short", "queue default, 3 s"));
        await Broker.PublishAsync("ttl", Text("long", "its own, 1 h") with { TimeToLive = TimeSpan.FromHours(1) });
        await Broker.PublishAsync("ttl-drop", Text("gone", "1 s") with { TimeToLive = TimeSpan.FromSeconds(1) });

        var expiry = (await Broker.PeekAsync("ttl")).Single(m => m.MessageId == "short").ExpiresAt;
        Assert.NotNull(expiry);

        await Cluster.RestartSilosAsync();

        // No consumer: expiry happens anyway, and is counted.
        await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync("ttl")).Counters.DeadLettered == 1, "the expired message was dead-lettered");
        await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync("ttl-drop")).Counters.Expired == 1, "the other expired message was dropped");
        Assert.True(DateTimeOffset.UtcNow >= expiry);

        var dead = Assert.Single(await Broker.PeekAsync("ttl.dlq"));
        Assert.Equal("short", dead.MessageId);
        Assert.StartsWith("expired", dead.Headers![BrokerHeaders.DeadLetterReason], StringComparison.Ordinal);
        Assert.Equal(1, (await Admin.GetQueueInfoAsync("ttl")).Counters.Expired);

        var drop = await Admin.GetQueueInfoAsync("ttl-drop");
        Assert.Equal(0, drop.Depth);
        Assert.Equal(0, drop.Counters.Delivered);
        await Assert.ThrowsAsync<BrokerException>(() => Admin.GetQueueInfoAsync("ttl-drop.dlq"));

        var left = Assert.Single(await Broker.ReceiveAndAckAsync("ttl", 1));
        Assert.Equal("long", left.MessageId);
    }

    [Fact]
    public async Task Higher_priority_is_delivered_first_and_FIFO_within_a_level_after_a_restart()
    {
        await Admin.CreateQueueAsync("prio");
        var published = Enumerable.Range(0, 40).Select(i => (Id: $"m{i:00}", Priority: (i * 7) % 10)).ToList();
        await Broker.PublishBatchAsync("prio", [.. published.Select(p => Text(p.Id, p.Id) with { Priority = p.Priority })]);

        await Cluster.RestartSilosAsync();

        var received = await Broker.ReceiveAndAckAsync("prio", published.Count);
        var expected = published.OrderByDescending(p => p.Priority).ThenBy(p => p.Id, StringComparer.Ordinal).Select(p => p.Id);
        Assert.Equal(expected, received.Select(d => d.MessageId));
        Assert.Equal(9, received[0].Priority);

        var error = await Assert.ThrowsAsync<BrokerException>(() => Broker.PublishAsync("prio", Text("bad", "x") with { Priority = 10 }));
        Assert.Equal(BrokerErrorCode.InvalidMessage, error.Code);
    }

    [Fact]
    public async Task Messages_of_one_ordering_key_go_one_at_a_time_in_order_while_other_keys_proceed_also_after_a_restart()
    {
        await Admin.CreateQueueAsync("groups");
        BrokerMessage Keyed(string id, string? key) => Text(id, id) with { OrderingKey = key };
        await Broker.PublishBatchAsync("groups", [Keyed("a1", "A"), Keyed("a2", "A"), Keyed("b1", "B"), Keyed("a3", "A"), Keyed("b2", "B"), Keyed("c1", null)]);

        var first = new List<Delivery>();
        using (var cancel = new CancellationTokenSource(Eventually.DefaultTimeout))
        {
            await foreach (var delivery in Broker.ReadAllAsync("groups", new ConsumerOptions { Prefetch = 10 }, cancel.Token))
            {
                first.Add(delivery);
                if (delivery.MessageId is "b1" or "c1")
                {
                    await Broker.CompleteAsync(delivery);
                }

                if (delivery.MessageId == "b2")
                {
                    break;
                }
            }

            // a1 is still unsettled, so a2 and a3 wait although the consumer has credit; B went on meanwhile.
            Assert.Equal(["a1", "b1", "c1", "b2"], first.Select(d => d.MessageId));
            Assert.Equal("A", first[0].OrderingKey);
        }

        await Cluster.RestartSilosAsync();

        // After the restart a1 (its lease ended with the old activation) still holds A's turn.
        var order = new List<string>();
        using (var cancel = new CancellationTokenSource(Eventually.DefaultTimeout))
        {
            await foreach (var delivery in Broker.ReadAllAsync("groups", new ConsumerOptions { Prefetch = 10 }, cancel.Token))
            {
                order.Add(delivery.MessageId);
                var info = await Admin.GetQueueInfoAsync("groups");
                Assert.True(info.InFlight <= 2, $"at most one message per key in flight, {info.InFlight} are");
                await Broker.CompleteAsync(delivery);
                if (order.Count == 4)
                {
                    break;
                }
            }
        }

        Assert.Equal(["a1", "a2", "a3"], order.Where(id => id.StartsWith('a')));
        Assert.Contains("b2", order);
        Assert.Equal(0, (await Admin.GetQueueInfoAsync("groups")).Depth);
    }

    [Fact]
    public async Task A_repeated_message_id_within_the_window_is_stored_once_and_gets_the_first_receipt_also_after_ack_and_restart()
    {
        await Admin.CreateQueueAsync("dedup");
        var first = await Broker.PublishAsync("dedup", Text("pay-1", "first"));
        Assert.Equal(first, await Broker.PublishAsync("dedup", Text("pay-1", "a retry with another body")));

        var batch = await Broker.PublishBatchAsync("dedup", [Text("pay-1", "x"), Text("pay-2", "y"), Text("pay-2", "z")]);
        Assert.Equal(first, batch[0]);
        Assert.NotEqual(first.Sequence, batch[1].Sequence);
        Assert.Equal(batch[1], batch[2]);

        var delivered = await Broker.ReceiveAndAckAsync("dedup", 2);
        Assert.Equal(["first", "y"], delivered.Select(d => d.BodyText()));

        await Cluster.RestartSilosAsync();

        Assert.Equal(first, await Broker.PublishAsync("dedup", Text("pay-1", "again after ack and restart")));
        var info = await Admin.GetQueueInfoAsync("dedup");
        Assert.Equal(0, info.Depth);
        Assert.Equal(2, info.Counters.Published);

        // Without a window, or once it has passed, the same id is a new message.
        await Admin.CreateQueueAsync("no-dedup", new QueueOptions { DeduplicationWindow = TimeSpan.Zero });
        Assert.NotEqual(await Broker.PublishAsync("no-dedup", Text("same", "1")), await Broker.PublishAsync("no-dedup", Text("same", "2")));
        await Admin.CreateQueueAsync("short-dedup", new QueueOptions { DeduplicationWindow = TimeSpan.FromSeconds(2) });
        var early = await Broker.PublishAsync("short-dedup", Text("same", "1"));
        await Eventually.HoldsAsync(async () => (await Broker.PublishAsync("short-dedup", Text("same", "2"))).Sequence != early.Sequence, "the id is new again after the window");
    }

    [Fact]
    public async Task Length_limits_reject_drop_or_dead_letter_the_oldest_and_hold_across_a_restart()
    {
        await Admin.CreateQueueAsync("full", new QueueOptions { MaxLength = 3 });
        await Admin.CreateQueueAsync("full-bytes", new QueueOptions { MaxBytes = 10 });
        await Admin.CreateQueueAsync("drop", new QueueOptions { MaxLength = 3, Overflow = OverflowPolicy.DropOldest });
        await Admin.CreateQueueAsync("spill", new QueueOptions { MaxLength = 2, Overflow = OverflowPolicy.DeadLetterOldest });

        await Broker.PublishBatchAsync("full", [Text("f1", "1"), Text("f2", "2"), Text("f3", "3")]);
        await Broker.PublishAsync("full-bytes", Text("b1", "123456"));
        await Broker.PublishBatchAsync("drop", [.. Enumerable.Range(1, 5).Select(i => Text($"d{i}", $"{i}"))]);
        await Broker.PublishBatchAsync("spill", [.. Enumerable.Range(1, 3).Select(i => Text($"s{i}", $"{i}"))]);

        await Cluster.RestartSilosAsync();

        var full = await Assert.ThrowsAsync<BrokerException>(() => Broker.PublishAsync("full", Text("f4", "4")));
        Assert.Equal(BrokerErrorCode.QueueFull, full.Code);
        var bytes = await Assert.ThrowsAsync<BrokerException>(() => Broker.PublishAsync("full-bytes", Text("b2", "12345")));
        Assert.Equal(BrokerErrorCode.QueueFull, bytes.Code);
        Assert.Equal(6, (await Admin.GetQueueInfoAsync("full-bytes")).Bytes);
        await Broker.PublishAsync("full-bytes", Text("b3", "1234"));

        // Nothing already accepted was lost by the refusals; room comes back as consumers take messages.
        Assert.Equal(["f1"], (await Broker.ReceiveAndAckAsync("full", 1)).Select(d => d.MessageId));
        await Broker.PublishAsync("full", Text("f4", "4"));
        Assert.Equal(["f2", "f3", "f4"], (await Broker.ReceiveAndAckAsync("full", 3)).Select(d => d.MessageId));

        Assert.Equal(["d3", "d4", "d5"], (await Broker.PeekAsync("drop")).Select(m => m.MessageId));
        Assert.Equal(2, (await Admin.GetQueueInfoAsync("drop")).Counters.Dropped);

        await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync("spill")).Counters.DeadLettered == 1, "the oldest went to the dead-letter queue");
        var spilled = Assert.Single(await Broker.PeekAsync("spill.dlq"));
        Assert.Equal("s1", spilled.MessageId);
        Assert.StartsWith("queue full", spilled.Headers![BrokerHeaders.DeadLetterReason], StringComparison.Ordinal);
        Assert.Equal(["s2", "s3"], (await Broker.PeekAsync("spill")).Select(m => m.MessageId));
    }

    [Fact]
    public async Task A_long_handler_keeps_its_lease_through_renewals_and_a_graceful_restart()
    {
        await Admin.CreateQueueAsync("long", new QueueOptions { LeaseDuration = TimeSpan.FromSeconds(4) });
        await Broker.PublishAsync("long", Text("slow", "takes 9 s"));

        var calls = new ConcurrentQueue<(string Id, int Attempt)>();
        var cancelled = new ConcurrentQueue<string>();
        var stuckStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var consumer = await Broker.ConsumeAsync("long", async (d, token) =>
        {
            calls.Enqueue((d.MessageId, d.Attempt));
            switch (d.MessageId)
            {
                case "slow":
                    // Runs over two leases: renewal (every half lease, so a late one on a busy machine still lands in
                    // time) keeps the message from being delivered again meanwhile.
                    await Task.Delay(TimeSpan.FromSeconds(9), token);
                    break;
                case "stuck" when calls.Count(c => c.Id == "stuck") == 1:
                    stuckStarted.TrySetResult();
                    try
                    {
                        await release.Task.WaitAsync(token);
                    }
                    catch (OperationCanceledException)
                    {
                        cancelled.Enqueue(d.MessageId);
                        throw;
                    }

                    break;
            }
        }, new ConsumerOptions { Concurrency = 2, Prefetch = 2 });

        await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync("long")).Counters.Acked == 1, "the slow message was acked");
        var info = await Admin.GetQueueInfoAsync("long");
        Assert.Equal(0, info.Counters.Redelivered);
        Assert.Equal([("slow", 1)], calls);

        // A graceful restart hands the lease over: the held handler's renewals land on the new activation (4 s leases, so
        // several of them), its token is never cancelled, and its ack after the restart is the message's only settlement.
        // A message handled meanwhile by the other worker is unaffected.
        await Broker.PublishAsync("long", Text("stuck", "held across the restart"));
        await stuckStarted.Task.WaitAsync(Eventually.DefaultTimeout);
        await Cluster.RestartSilosAsync();
        var restarted = DateTimeOffset.UtcNow;
        await Broker.PublishAsync("long", Text("quick", "done at once"));
        await Eventually.HoldsAsync(() => calls.Any(c => c.Id == "quick"), "the other worker handled a message after the restart");

        // Held until the new activation has taken renewals past two leases after the restart, the message still on its first delivery.
        async Task<bool> RenewedPastTwoLeasesAsync()
        {
            var stuck = (await Broker.PeekAsync("long")).SingleOrDefault(m => m.MessageId == "stuck");
            return stuck is { State: MessageState.InFlight, Attempts: 1, LeaseExpiresAt: { } until } && until > restarted + TimeSpan.FromSeconds(8);
        }

        await Eventually.HoldsAsync(RenewedPastTwoLeasesAsync, "renewals of the held message landed on the new activation");
        release.TrySetResult();

        await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync("long")).Depth == 0, "both messages were acked after the restart");
        Assert.Empty(cancelled);
        Assert.Single(calls, c => c.Id == "stuck");
        Assert.Single(calls, c => c.Id == "quick");
        Assert.False(consumer.Completion.IsCompleted);
    }
}
