using OrleansBroker.Messages;
using OrleansBroker.Queues;
using Xunit;

namespace OrleansBroker.Tests.Queues.Parts;

/// <summary>Pull receive (the HTTP API's receive, the client's ReceiveAsync) on a clock the test moves, with no silo.</summary>
public sealed class QueueReceiveTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task A_receive_takes_what_is_ready_up_to_its_max_in_order_and_completes_it()
    {
        var queue = await QueueCoreHarness.CreateAsync(new QueueOptions());
        await queue.PublishAsync(5);

        var first = await ReceiveAsync(queue, 3, TimeSpan.Zero);
        var rest = await ReceiveAsync(queue, 10, TimeSpan.Zero);

        Assert.Equal(["m0", "m1", "m2"], first.Select(d => d.MessageId));
        Assert.Equal(["m3", "m4"], rest.Select(d => d.MessageId));
        Assert.All(first.Concat(rest), d => Assert.Equal(1, d.Attempt));
        Assert.Equal(Enumerable.Repeat(SettleStatus.Ok, 5), await queue.SettleAsync(SettleKind.Ack, [.. first, .. rest]));
        Assert.Empty(await queue.PeekAsync());
        Assert.Empty(await ReceiveAsync(queue, 10, TimeSpan.Zero));
    }

    [Fact]
    public async Task A_waiting_receive_is_answered_by_the_next_publish_and_an_unanswered_one_ends_empty_at_its_wait()
    {
        var queue = await QueueCoreHarness.CreateAsync(new QueueOptions());
        var waiting = await StartReceiveAsync(queue, 10, TimeSpan.FromSeconds(20), CancellationToken.None);
        await queue.AdvanceAsync(TimeSpan.FromSeconds(5));
        Assert.False(waiting.IsCompleted);

        await queue.PublishAsync(2);
        Assert.Equal(["m0", "m1"], (await waiting.WaitAsync(TimeSpan.FromSeconds(30))).Select(d => d.MessageId));

        var unanswered = await StartReceiveAsync(queue, 10, TimeSpan.FromSeconds(20), CancellationToken.None);
        await queue.AdvanceAsync(TimeSpan.FromSeconds(19));
        Assert.False(unanswered.IsCompleted);
        await queue.AdvanceAsync(TimeSpan.FromSeconds(1));
        Assert.Empty(await unanswered.WaitAsync(TimeSpan.FromSeconds(30)));

        // The ended receive took nothing: the next message goes to the next receive.
        await queue.PublishAsync(1, "late");
        Assert.Equal("late0", Assert.Single(await ReceiveAsync(queue, 10, TimeSpan.Zero)).MessageId);
    }

    [Fact]
    public async Task A_cancelled_receive_ends_empty_and_takes_nothing()
    {
        var queue = await QueueCoreHarness.CreateAsync(new QueueOptions());
        using var cancel = new CancellationTokenSource();
        var waiting = await StartReceiveAsync(queue, 10, TimeSpan.FromSeconds(20), cancel.Token);
        await cancel.CancelAsync();
        Assert.Empty(await waiting.WaitAsync(TimeSpan.FromSeconds(30)));

        await queue.PublishAsync(1);
        Assert.Single(await ReceiveAsync(queue, 10, TimeSpan.Zero));
    }

    [Fact]
    public async Task A_received_message_not_settled_within_its_lease_comes_again_with_the_next_attempt_and_the_old_token_is_lost()
    {
        var queue = await QueueCoreHarness.CreateAsync(new QueueOptions { Retry = RetryPolicy.Immediate });
        await queue.PublishAsync(1);
        var first = Assert.Single(await ReceiveAsync(queue, 1, TimeSpan.Zero, TimeSpan.FromSeconds(5)));
        Assert.Equal(queue.Time.GetUtcNow() + TimeSpan.FromSeconds(5), first.LeaseExpiresAt);

        await queue.AdvanceAsync(TimeSpan.FromSeconds(4));
        Assert.Empty(await ReceiveAsync(queue, 1, TimeSpan.Zero));
        await queue.AdvanceAsync(TimeSpan.FromSeconds(1));
        await queue.TickAsync();

        var again = Assert.Single(await ReceiveAsync(queue, 1, TimeSpan.Zero));
        Assert.Equal(first.Sequence, again.Sequence);
        Assert.Equal(2, again.Attempt);
        Assert.Equal([SettleStatus.LeaseLost], await queue.SettleAsync(SettleKind.Ack, first));
        Assert.Equal([SettleStatus.Ok], await queue.SettleAsync(SettleKind.Ack, again));
    }

    [Fact]
    public async Task A_waiting_receive_is_served_before_a_push_consumer_and_the_consumer_gets_the_rest()
    {
        var queue = await QueueCoreHarness.CreateAsync(new QueueOptions());
        var consumer = await queue.SubscribeAsync("push", prefetch: 100);
        var waiting = await StartReceiveAsync(queue, 2, TimeSpan.FromSeconds(20), CancellationToken.None);

        await queue.PublishAsync(5);

        Assert.Equal(["m0", "m1"], (await waiting.WaitAsync(TimeSpan.FromSeconds(30))).Select(d => d.MessageId));
        Assert.Equal(["m2", "m3", "m4"], consumer.Received.Select(d => d.MessageId));
    }

    /// <summary>Starts a waiting receive and returns once it waits (its wait timer runs from the clock's time now).</summary>
    private static async Task<Task<IReadOnlyList<Delivery>>> StartReceiveAsync(QueueCoreHarness queue, int max, TimeSpan wait, CancellationToken cancellationToken)
    {
        var receive = queue.RunAsync(() => queue.Core.Dispatcher.ReceiveAsync(max, wait, Lease, cancellationToken));
        await queue.RunAsync(() => { });
        return receive;
    }

    private static async Task<IReadOnlyList<Delivery>> ReceiveAsync(QueueCoreHarness queue, int max, TimeSpan wait, TimeSpan? lease = null)
    {
        var received = await queue.RunAsync(() => queue.Core.Dispatcher.ReceiveAsync(max, wait, lease ?? Lease, CancellationToken.None));
        await queue.QuiesceAsync();
        return received;
    }
}
