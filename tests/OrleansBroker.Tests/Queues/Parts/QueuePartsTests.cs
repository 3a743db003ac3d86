using OrleansBroker.Messages;
using OrleansBroker.Queues;
using Xunit;

namespace OrleansBroker.Tests.Queues.Parts;

/// <summary>
/// The queue's decisions on a clock the test moves, with no silo: retry backoff, lease expiry, scheduled delivery, time to live,
/// attempts running out, credit and rotation, message groups, the dedup window. Each runs in milliseconds.
/// </summary>
public sealed class QueuePartsTests
{
    [Fact]
    public async Task An_abandoned_message_comes_again_after_the_queues_backoff_and_not_before()
    {
        var queue = await QueueCoreHarness.CreateAsync(new QueueOptions { Retry = RetryPolicy.FixedDelay(TimeSpan.FromSeconds(5)) });
        var consumer = await queue.SubscribeAsync("c", prefetch: 10);
        await queue.PublishAsync(1);
        Assert.Equal([SettleStatus.Ok], await queue.SettleAsync(SettleKind.Requeue, consumer.Take()));

        await queue.AdvanceAsync(TimeSpan.FromSeconds(4.9));
        Assert.Single(consumer.Received);
        Assert.Equal(MessageState.Delayed, Assert.Single(await queue.PeekAsync()).State);

        await queue.AdvanceAsync(TimeSpan.FromSeconds(0.1));
        Assert.Equal(2, consumer.Received.Count);
        Assert.Equal(2, consumer.Received[1].Attempt);
        Assert.Equal(1, queue.Wakes);
    }

    [Fact]
    public async Task Exponential_backoff_doubles_up_to_its_cap()
    {
        var queue = await QueueCoreHarness.CreateAsync(new QueueOptions
        {
            Retry = RetryPolicy.ExponentialBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(3)),
            MaxDeliveryAttempts = 0,
        });
        var consumer = await queue.SubscribeAsync("c", prefetch: 10);
        await queue.PublishAsync(1);
        foreach (var wait in new[] { 1.0, 2.0, 3.0, 3.0 })
        {
            var received = consumer.Received.Count;
            await queue.SettleAsync(SettleKind.Requeue, consumer.Take());
            await queue.AdvanceAsync(TimeSpan.FromSeconds(wait) - TimeSpan.FromMilliseconds(1));
            Assert.Equal(received, consumer.Received.Count);
            await queue.AdvanceAsync(TimeSpan.FromMilliseconds(1));
            Assert.Equal(received + 1, consumer.Received.Count);
        }
    }

    [Fact]
    public async Task A_lease_that_runs_out_delivers_again_and_the_late_ack_is_lease_lost()
    {
        var queue = await QueueCoreHarness.CreateAsync(new QueueOptions { LeaseDuration = TimeSpan.FromSeconds(30) });
        var consumer = await queue.SubscribeAsync("c", prefetch: 10);
        await queue.PublishAsync(1);
        var first = consumer.Take();

        await queue.AdvanceAsync(TimeSpan.FromSeconds(29));
        await queue.TickAsync();
        Assert.Single(consumer.Received);

        // No tick needed: a settle that arrives after the lease's end finds it ended.
        await queue.AdvanceAsync(TimeSpan.FromSeconds(1));
        Assert.Equal([SettleStatus.LeaseLost], await queue.SettleAsync(SettleKind.Ack, first));
        var again = consumer.Take();
        Assert.Equal((first.Sequence, 2), (again.Sequence, again.Attempt));
        Assert.NotEqual(first.LeaseToken, again.LeaseToken);
        Assert.Equal([SettleStatus.Ok], await queue.SettleAsync(SettleKind.Ack, again));
        Assert.Empty(await queue.PeekAsync());
    }

    [Fact]
    public async Task A_scheduled_message_waits_for_its_time_then_goes_first()
    {
        var queue = await QueueCoreHarness.CreateAsync(new QueueOptions());
        var consumer = await queue.SubscribeAsync("c", prefetch: 10);
        await queue.PublishAsync(QueueCoreHarness.Message("later", delay: TimeSpan.FromMinutes(10)));
        Assert.Empty(consumer.Received);

        await queue.AdvanceAsync(TimeSpan.FromMinutes(10) - TimeSpan.FromTicks(1));
        Assert.Empty(consumer.Received);
        await queue.AdvanceAsync(TimeSpan.FromTicks(1));
        Assert.Equal("later", Assert.Single(consumer.Received).MessageId);
    }

    [Fact]
    public async Task A_message_past_its_time_to_live_is_dropped_or_dead_lettered_without_a_consumer()
    {
        var dropping = await QueueCoreHarness.CreateAsync(new QueueOptions());
        await dropping.PublishAsync(QueueCoreHarness.Message("m", ttl: TimeSpan.FromSeconds(5)));
        await dropping.AdvanceAsync(TimeSpan.FromSeconds(5));
        await dropping.TickAsync();
        Assert.Empty(await dropping.PeekAsync());
        Assert.Equal(1, dropping.Core.Log.Meta.Counters.Expired);
        Assert.Empty(dropping.DeadLetters.Letters);

        var lettering = await QueueCoreHarness.CreateAsync(new QueueOptions { DeadLetterExpired = true });
        await lettering.PublishAsync(QueueCoreHarness.Message("m", ttl: TimeSpan.FromSeconds(5)));
        await lettering.AdvanceAsync(TimeSpan.FromSeconds(4));
        await lettering.TickAsync();
        Assert.Single(await lettering.PeekAsync());
        await lettering.AdvanceAsync(TimeSpan.FromSeconds(1));
        await lettering.TickAsync();
        var letter = Assert.Single(lettering.DeadLetters.Letters);
        Assert.StartsWith("expired", letter.Headers![BrokerHeaders.DeadLetterReason], StringComparison.Ordinal);
        Assert.Empty(await lettering.PeekAsync());
    }

    [Fact]
    public async Task Out_of_attempts_a_message_goes_to_the_dead_letter_queue_with_its_count()
    {
        var queue = await QueueCoreHarness.CreateAsync(new QueueOptions { MaxDeliveryAttempts = 2, LeaseDuration = TimeSpan.FromSeconds(10) });
        var consumer = await queue.SubscribeAsync("c", prefetch: 10);
        await queue.PublishAsync(1);
        await queue.AdvanceAsync(TimeSpan.FromSeconds(10));
        await queue.TickAsync();
        Assert.Equal(2, consumer.Received[^1].Attempt);
        Assert.Empty(queue.DeadLetters.Letters);

        await queue.SettleAsync(SettleKind.Requeue, consumer.Received[^1]);
        var letter = Assert.Single(queue.DeadLetters.Letters);
        Assert.Equal("2", letter.Headers![BrokerHeaders.Attempts]);
        Assert.Equal(1, queue.Core.Log.Meta.Counters.DeadLettered);
        Assert.Empty(await queue.PeekAsync());
    }

    [Fact]
    public async Task Consumers_with_credit_take_turns_and_a_full_one_waits_for_an_ack()
    {
        var queue = await QueueCoreHarness.CreateAsync(new QueueOptions());
        var a = await queue.SubscribeAsync("a", prefetch: 2);
        var b = await queue.SubscribeAsync("b", prefetch: 2);
        await queue.PublishAsync(6);
        Assert.Equal([0L, 2L], a.Received.Select(d => d.Sequence - a.Received[0].Sequence));
        Assert.Equal(2, b.Received.Count);
        Assert.Equal(a.Received[0].Sequence + 1, b.Received[0].Sequence);

        await queue.SettleAsync(SettleKind.Ack, a.Take());
        Assert.Equal(3, a.Received.Count);
        Assert.Equal(2, b.Received.Count);
        Assert.Equal(1, (await queue.PeekAsync()).Count(m => m.State == MessageState.Ready));
    }

    [Fact]
    public async Task A_message_group_releases_its_next_message_only_when_the_first_is_settled()
    {
        var queue = await QueueCoreHarness.CreateAsync(new QueueOptions { Retry = RetryPolicy.FixedDelay(TimeSpan.FromSeconds(2)) });
        var consumer = await queue.SubscribeAsync("c", prefetch: 10);
        await queue.PublishAsync(QueueCoreHarness.Message("k1", key: "k"), QueueCoreHarness.Message("k2", key: "k"), QueueCoreHarness.Message("free"));
        Assert.Equal(["k1", "free"], consumer.Received.Select(d => d.MessageId));

        // A retry keeps the group's turn: k2 waits through k1's backoff.
        await queue.SettleAsync(SettleKind.Requeue, consumer.Holding.First(d => d.MessageId == "k1"));
        await queue.AdvanceAsync(TimeSpan.FromSeconds(2));
        Assert.Equal(["k1", "free", "k1"], consumer.Received.Select(d => d.MessageId));

        await queue.SettleAsync(SettleKind.Ack, consumer.Holding.Last(d => d.MessageId == "k1"));
        Assert.Equal("k2", consumer.Received[^1].MessageId);
    }

    [Fact]
    public async Task A_producer_id_is_stored_once_within_the_dedup_window_and_again_after_it()
    {
        var queue = await QueueCoreHarness.CreateAsync(new QueueOptions { DeduplicationWindow = TimeSpan.FromMinutes(1) });
        var first = await queue.PublishAsync(QueueCoreHarness.Message("once"));
        await queue.AdvanceAsync(TimeSpan.FromSeconds(59));
        await queue.TickAsync();
        Assert.Equal(first, await queue.PublishAsync(QueueCoreHarness.Message("once")));
        Assert.Single(await queue.PeekAsync());

        await queue.AdvanceAsync(TimeSpan.FromSeconds(2));
        await queue.TickAsync();
        var later = await queue.PublishAsync(QueueCoreHarness.Message("once"));
        Assert.NotEqual(first[0].Sequence, later[0].Sequence);
        Assert.Equal(2, (await queue.PeekAsync()).Count);
    }

    [Fact]
    public async Task A_consumer_that_stops_renewing_is_dropped_and_what_it_held_goes_to_another()
    {
        var queue = await QueueCoreHarness.CreateAsync(new QueueOptions { LeaseDuration = TimeSpan.FromMinutes(5) });
        var gone = await queue.SubscribeAsync("gone", prefetch: 1);
        await queue.PublishAsync(1);
        var other = await queue.SubscribeAsync("other", prefetch: 1);
        Assert.Single(gone.Received);
        Assert.Empty(other.Received);

        // "other" renews within the registration's lifetime; "gone" does not.
        await queue.AdvanceAsync(queue.Core.ConsumerTimeout / 2);
        await queue.RunAsync(() => queue.Core.Dispatcher.Register("other", 1, other));
        await queue.AdvanceAsync(queue.Core.ConsumerTimeout / 2 + TimeSpan.FromSeconds(1));
        await queue.TickAsync();
        var moved = Assert.Single(other.Received);
        Assert.Equal((gone.Received[0].Sequence, 2), (moved.Sequence, moved.Attempt));
    }
}
