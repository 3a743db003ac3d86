using System.Collections.Concurrent;
using System.Text;
using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Queues;

/// <summary>Delivery semantics on a real silo with SQLite storage: competing consumers, nack, leases, DLQ.</summary>
public sealed class QueueDeliveryTests : BrokerClusterTest
{
    [Fact]
    public async Task Each_message_goes_to_exactly_one_of_several_competing_consumers()
    {
        await Admin.CreateQueueAsync("work");
        var seen = new ConcurrentDictionary<string, ConcurrentBag<string>>();
        var consumers = new List<IBrokerConsumer>();
        for (var c = 0; c < 3; c++)
        {
            var name = $"c{c}";
            consumers.Add(await Broker.ConsumeAsync("work", (d, _) =>
            {
                seen.GetOrAdd(d.MessageId, _ => []).Add(name);
                return Task.CompletedTask;
            }, new ConsumerOptions { Prefetch = 5 }));
        }

        var batch = Enumerable.Range(0, 300).Select(i => new BrokerMessage($"m{i}", Encoding.UTF8.GetBytes($"body {i}"))).ToList();
        await Broker.PublishBatchAsync("work", batch);

        await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync("work")).Counters.Acked == 300, "all 300 acked");
        Assert.Equal(300, seen.Count);
        Assert.All(seen.Values, consumersOfMessage => Assert.Single(consumersOfMessage));
        Assert.True(seen.Values.Select(v => v.Single()).Distinct().Count() > 1, "work was shared between consumers");
        var info = await Admin.GetQueueInfoAsync("work");
        Assert.Equal(0, info.Depth);

        foreach (var consumer in consumers)
        {
            await consumer.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_consumer_a_delivery_failed_to_reach_keeps_what_it_holds_and_gets_nothing_more_until_it_registers_again()
    {
        await Admin.CreateQueueAsync("unreachable", new QueueOptions { LeaseDuration = TimeSpan.FromMinutes(10) });
        var grain = Cluster.Grains.GetGrain<IQueueGrain>("unreachable");
        var a = new RecordingObserver();
        var aRef = Cluster.Grains.CreateObjectReference<IConsumerObserver>(a);
        await grain.Subscribe("a", 1, aRef);
        await Broker.PublishAsync("unreachable", "held", "m0");
        var held = await a.NextAsync();

        // The next batch for "a" does not arrive (its gateway went away, say): it goes back to ready.
        a.FailNext = true;
        await grain.Subscribe("a", 10, aRef);
        await Broker.PublishAsync("unreachable", "bounced", "m1");
        await Eventually.HoldsAsync(() => !a.FailNext, "the delivery to a failed");

        var b = new RecordingObserver();
        await grain.Subscribe("b", 2, Cluster.Grains.CreateObjectReference<IConsumerObserver>(b));
        var bounced = await b.NextAsync();
        Assert.Equal(("m1", 2), (bounced.MessageId, bounced.Attempt));
        await Broker.PublishAsync("unreachable", "more", "m2");
        Assert.Equal("m2", (await b.NextAsync()).MessageId);

        // b is full (prefetch 2), a has credit but is suspended: m3 waits until a shows it is there by registering again.
        await Broker.PublishAsync("unreachable", "after", "m3");
        Assert.Equal(1, (await Admin.GetQueueInfoAsync("unreachable")).Ready);
        Assert.Equal(0, a.Received);
        await grain.Subscribe("a", 10, aRef);
        Assert.Equal("m3", (await a.NextAsync()).MessageId);

        // What a held through the failure was never taken from it: its ack lands.
        Assert.Equal([SettleStatus.Ok], await grain.Settle([new Settlement(held.Sequence, held.LeaseToken, SettleKind.Ack)]));
    }

    [Fact]
    public async Task A_requeued_message_comes_back_with_a_higher_attempt_number()
    {
        await Admin.CreateQueueAsync("retry");
        await Broker.PublishAsync("retry", "hello", "m1");
        var attempts = new List<int>();
        await foreach (var delivery in Broker.ReadWithTimeoutAsync("retry", new ConsumerOptions { Prefetch = 1 }))
        {
            attempts.Add(delivery.Attempt);
            if (delivery.Attempt < 3)
            {
                await Broker.AbandonAsync(delivery);
                continue;
            }

            await Broker.CompleteAsync(delivery);
            break;
        }

        Assert.Equal([1, 2, 3], attempts);
        var info = await Admin.GetQueueInfoAsync("retry");
        Assert.Equal(0, info.Depth);
        Assert.Equal(2, info.Counters.Redelivered);
    }

    [Fact]
    public async Task A_message_not_acked_within_its_lease_is_delivered_again()
    {
        await Admin.CreateQueueAsync("leases", new QueueOptions { LeaseDuration = TimeSpan.FromSeconds(1) });
        await Broker.PublishAsync("leases", "slow", "m1");
        var deliveries = new List<Delivery>();
        await foreach (var delivery in Broker.ReadWithTimeoutAsync("leases", new ConsumerOptions { Prefetch = 1 }))
        {
            deliveries.Add(delivery);
            if (deliveries.Count == 2)
            {
                await Broker.CompleteAsync(delivery);
                break;
            }
        }

        Assert.Equal("m1", deliveries[1].MessageId);
        Assert.Equal(2, deliveries[1].Attempt);
        Assert.True(deliveries[1].EnqueuedAt == deliveries[0].EnqueuedAt);
        var stale = await Assert.ThrowsAsync<BrokerException>(() => Broker.CompleteAsync(deliveries[0]));
        Assert.Equal(BrokerErrorCode.LeaseLost, stale.Code);
    }

    [Fact]
    public async Task Extending_a_lease_keeps_the_message_from_redelivery()
    {
        await Admin.CreateQueueAsync("extend", new QueueOptions { LeaseDuration = TimeSpan.FromSeconds(1) });
        await Broker.PublishAsync("extend", "long job", "m1");
        await using var enumerator = Broker.ReadWithTimeoutAsync("extend", new ConsumerOptions { Prefetch = 1 }).GetAsyncEnumerator();
        Assert.True(await enumerator.MoveNextAsync());
        var delivery = enumerator.Current;
        var expiry = await Broker.RenewLeaseAsync(delivery, TimeSpan.FromMinutes(5));
        Assert.True(expiry > delivery.LeaseExpiresAt.AddMinutes(4));

        // The original lease (1 s) has certainly passed once the queue says so by its own clock.
        await Eventually.HoldsAsync(() => DateTimeOffset.UtcNow > delivery.LeaseExpiresAt.AddSeconds(2), "original lease passed");
        var info = await Admin.GetQueueInfoAsync("extend");
        Assert.Equal(1, info.InFlight);
        Assert.Equal(0, info.Counters.Redelivered);
        await Broker.CompleteAsync(delivery);
    }

    [Fact]
    public async Task A_poison_message_goes_to_the_dead_letter_queue_after_max_attempts_with_its_story_in_headers()
    {
        await Admin.CreateQueueAsync("orders", new QueueOptions { MaxDeliveryAttempts = 3 });
        await Broker.PublishAsync("orders", new BrokerMessage("poison", Encoding.UTF8.GetBytes("bad"), "text/plain", new Dictionary<string, string> { ["tenant"] = "a" }));
        await Broker.PublishAsync("orders", "good", "fine");
        var handled = new ConcurrentBag<string>();
        await using (var consumer = await Broker.ConsumeAsync("orders", (d, _) =>
        {
            handled.Add(d.MessageId);
            return d.MessageId == "poison" ? throw new InvalidOperationException("cannot parse") : Task.CompletedTask;
        }))
        {
            await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync("orders")).Counters.DeadLettered == 1, "poison dead-lettered");
        }

        Assert.Equal(3, handled.Count(id => id == "poison"));
        Assert.Equal(1, handled.Count(id => id == "fine"));
        var dlq = await Admin.GetQueueInfoAsync("orders.dlq");
        Assert.Equal(1, dlq.Ready);
        await foreach (var dead in Broker.ReadWithTimeoutAsync("orders.dlq"))
        {
            Assert.Equal("poison", dead.MessageId);
            Assert.Equal("bad", dead.BodyText());
            Assert.Equal("a", dead.Headers!["tenant"]);
            Assert.Equal("orders", dead.Headers[BrokerHeaders.SourceQueue]);
            Assert.Equal("3", dead.Headers[BrokerHeaders.Attempts]);
            Assert.Contains("attempts exhausted", dead.Headers[BrokerHeaders.DeadLetterReason], StringComparison.Ordinal);
            await Broker.CompleteAsync(dead);
            break;
        }

        Assert.Contains("orders.dlq", await Admin.ListQueuesAsync());
    }

    [Fact]
    public async Task A_dead_letter_nack_moves_the_message_at_once_with_the_consumers_reason()
    {
        await Admin.CreateQueueAsync("reject");
        await Broker.PublishAsync("reject", "x", "m1");
        await foreach (var delivery in Broker.ReadWithTimeoutAsync("reject"))
        {
            await Broker.DeadLetterAsync(delivery, "schema v1 unsupported");
            break;
        }

        await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync("reject")).Counters.DeadLettered == 1, "dead-lettered");
        await foreach (var dead in Broker.ReadWithTimeoutAsync("reject.dlq"))
        {
            Assert.Equal("schema v1 unsupported", dead.Headers![BrokerHeaders.DeadLetterReason]);
            Assert.Equal("1", dead.Headers[BrokerHeaders.Attempts]);
            await Broker.CompleteAsync(dead);
            break;
        }
    }

    [Fact]
    public async Task Prefetch_bounds_unsettled_deliveries_per_consumer()
    {
        await Admin.CreateQueueAsync("credit");
        await Broker.PublishBatchAsync("credit", Enumerable.Range(0, 50).Select(i => new BrokerMessage(null, [(byte)i])).ToList());
        var received = new List<Delivery>();
        await using var enumerator = Broker.ReadWithTimeoutAsync("credit", new ConsumerOptions { Prefetch = 7 }).GetAsyncEnumerator();
        for (var i = 0; i < 7; i++)
        {
            Assert.True(await enumerator.MoveNextAsync());
            received.Add(enumerator.Current);
        }

        var info = await Admin.GetQueueInfoAsync("credit");
        Assert.Equal(7, info.InFlight);
        Assert.Equal(43, info.Ready);

        // Acking one frees one credit: exactly one more is delivered.
        await Broker.CompleteAsync(received[0]);
        Assert.True(await enumerator.MoveNextAsync());
        info = await Admin.GetQueueInfoAsync("credit");
        Assert.Equal(7, info.InFlight);
        Assert.Equal(42, info.Ready);
        Assert.Equal(Enumerable.Range(1, 8).Select(i => (long)i), received.Select(d => d.Sequence).Append(enumerator.Current.Sequence));
    }

    [Fact]
    public async Task A_handler_without_renewal_is_cancelled_when_its_lease_ends_and_its_return_is_not_an_ack()
    {
        await Admin.CreateQueueAsync("slow", new QueueOptions { LeaseDuration = TimeSpan.FromSeconds(1) });
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var second = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var consumer = await Broker.ConsumeAsync("slow", async (delivery, ct) =>
        {
            if (delivery.Attempt > 1)
            {
                second.TrySetResult(delivery.Attempt);
                return;
            }

            try
            {
                // Longer than the lease, and long enough that the test fails, not hangs, if nobody cancels it.
                await Task.Delay(TimeSpan.FromSeconds(30), ct);
            }
            catch (OperationCanceledException)
            {
                cancelled.TrySetResult();

                // Swallowed, as handlers do: returning must not ack a message whose lease is gone.
            }
        }, new ConsumerOptions { MaxLeaseRenewal = TimeSpan.Zero });

        await Broker.PublishAsync("slow", new BrokerMessage("m1", Encoding.UTF8.GetBytes("slow")));
        await cancelled.Task.WaitAsync(TimeSpan.FromSeconds(20));
        Assert.Equal(2, await second.Task.WaitAsync(TimeSpan.FromSeconds(90)));
        await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync("slow")).Depth == 0, "the second delivery acked");
        var info = await Admin.GetQueueInfoAsync("slow");
        Assert.Equal(1, info.Counters.Acked);
        Assert.Equal(1, info.Counters.Redelivered);
    }
}
