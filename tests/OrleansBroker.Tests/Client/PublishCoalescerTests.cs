using System.Collections.Concurrent;
using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using Xunit;

namespace OrleansBroker.Tests.Client;

/// <summary>
/// How the client gathers concurrent single publishes into calls: the logic alone, against a queue that answers when the
/// test says so. The same publishes through a real silo are in <see cref="CoalescedPublishTests"/>.
/// </summary>
public sealed class PublishCoalescerTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Publishes_made_while_every_call_is_out_wait_and_leave_together_in_arrival_order_each_with_its_own_receipt()
    {
        var queue = new GatedQueue();
        var coalescer = queue.Coalescer(maxCallsInFlight: 1);

        var first = coalescer.PublishAsync(Message("m0"));
        var firstCall = await queue.NextCallAsync();
        Assert.Equal(["m0"], firstCall.Ids);

        // The one call allowed is out: these wait, in the order they were made.
        var rest = Enumerable.Range(1, 9).Select(i => coalescer.PublishAsync(Message($"m{i}"))).ToList();
        Assert.All(rest, publish => Assert.False(publish.IsCompleted));
        firstCall.Answer();
        Assert.Equal("m0", (await first.WaitAsync(Wait)).MessageId);

        var secondCall = await queue.NextCallAsync();
        Assert.Equal([.. Enumerable.Range(1, 9).Select(i => $"m{i}")], secondCall.Ids);
        Assert.All(rest, publish => Assert.False(publish.IsCompleted));
        secondCall.Answer();
        var receipts = await Task.WhenAll(rest).WaitAsync(Wait);
        Assert.Equal([.. Enumerable.Range(1, 9).Select(i => $"m{i}")], receipts.Select(r => r.MessageId));
        Assert.Equal(2, queue.Calls);
    }

    [Fact]
    public async Task Many_concurrent_publishes_take_far_fewer_calls_than_messages_never_more_out_than_allowed_and_each_caller_gets_its_own_receipt()
    {
        var queue = new GatedQueue { AnswerAtOnceAfter = TimeSpan.FromMilliseconds(2) };
        var coalescer = queue.Coalescer(maxCallsInFlight: 4);

        var publishes = await Task.WhenAll(Enumerable.Range(0, 16).Select(producer => Task.Run(async () =>
        {
            var receipts = new List<(string Sent, PublishReceipt Receipt)>();
            for (var i = 0; i < 250; i++)
            {
                var id = $"p{producer}-{i}";
                receipts.Add((id, await coalescer.PublishAsync(Message(id))));
            }

            return receipts;
        }))).WaitAsync(TimeSpan.FromMinutes(2));

        Assert.All(publishes.SelectMany(p => p), p => Assert.Equal(p.Sent, p.Receipt.MessageId));
        Assert.Equal(4000, queue.Stored.Count);
        Assert.Equal(4000, queue.Stored.Distinct().Count());
        Assert.InRange(queue.MostOutAtOnce, 1, 4);
        Assert.True(queue.Calls < 4000 / 2, $"{queue.Calls} calls for 4000 publishes from 16 producers");
    }

    [Fact]
    public async Task A_batch_refused_for_one_message_is_split_and_sent_again_in_order_so_only_that_caller_fails()
    {
        var queue = new GatedQueue { Refuse = id => id == "bad" ? new BrokerException(BrokerErrorCode.MessageTooLarge, "Message body is too large.") : null };
        var (_, waiting) = await PublishedWhileOneCallIsOutAsync(queue, "a", "bad", "b");

        // The batch of three is refused whole; its halves are sent in turn, the refused one split again.
        var calls = new List<IReadOnlyList<string>>();
        for (var i = 0; i < 4; i++)
        {
            var call = await queue.NextCallAsync();
            calls.Add(call.Ids);
            call.Answer();
        }

        Assert.Equal([["a", "bad", "b"], ["a"], ["bad", "b"], ["bad"]], calls.Take(4));
        var last = await queue.NextCallAsync();
        Assert.Equal(["b"], last.Ids);
        last.Answer();

        Assert.Equal("a", (await waiting[0].WaitAsync(Wait)).MessageId);
        Assert.Equal("b", (await waiting[2].WaitAsync(Wait)).MessageId);
        var refused = await Assert.ThrowsAsync<BrokerException>(() => waiting[1].WaitAsync(Wait));
        Assert.Equal(BrokerErrorCode.MessageTooLarge, refused.Code);
        Assert.Equal(["m0", "a", "b"], queue.Stored);
    }

    [Fact]
    public async Task A_batch_that_fails_for_the_whole_queue_fails_each_of_its_callers_and_the_next_publish_still_goes_out()
    {
        var queue = new GatedQueue();
        var (coalescer, waiting) = await PublishedWhileOneCallIsOutAsync(queue, "a", "b");

        (await queue.NextCallAsync()).Fail(new BrokerException(BrokerErrorCode.StorageUnavailable, "The disk is gone."));
        foreach (var publish in waiting)
        {
            Assert.Equal(BrokerErrorCode.StorageUnavailable, (await Assert.ThrowsAsync<BrokerException>(() => publish.WaitAsync(Wait))).Code);
        }

        var next = coalescer.PublishAsync(Message("c"));
        (await queue.NextCallAsync()).Answer();
        Assert.Equal("c", (await next.WaitAsync(Wait)).MessageId);
        Assert.Equal(["m0", "c"], queue.Stored);
    }

    private static BrokerMessage Message(string id) => new(id, [1, 2, 3]);

    /// <summary>
    /// With one call allowed: "m0" goes out alone, <paramref name="ids"/> are published while its call is out (so they wait and
    /// leave together next), then that call is answered. Returns the coalescer and the waiting publishes.
    /// </summary>
    private static async Task<(PublishCoalescer<PublishReceipt> Coalescer, List<Task<PublishReceipt>> Waiting)> PublishedWhileOneCallIsOutAsync(
        GatedQueue queue, params string[] ids)
    {
        var coalescer = queue.Coalescer(maxCallsInFlight: 1);
        var first = coalescer.PublishAsync(Message("m0"));
        var firstCall = await queue.NextCallAsync();
        var waiting = ids.Select(id => coalescer.PublishAsync(Message(id))).ToList();
        firstCall.Answer();
        await first.WaitAsync(Wait);
        return (coalescer, waiting);
    }

    /// <summary>A queue whose calls wait for the test to answer them (or answer by themselves after a pause).</summary>
    private sealed class GatedQueue
    {
        private readonly Lock _lock = new();
        private readonly ConcurrentQueue<Call> _calls = new();
        private readonly SemaphoreSlim _called = new(0);
        private int _out;
        private int _callsMade;

        /// <summary>When set, calls answer by themselves after this pause instead of waiting for the test.</summary>
        public TimeSpan? AnswerAtOnceAfter { get; init; }

        /// <summary>The refusal a message with this id gets (all or none: a batch holding it is refused whole).</summary>
        public Func<string, BrokerException?> Refuse { get; init; } = _ => null;

        public List<string> Stored { get; } = [];

        public int Calls => Volatile.Read(ref _callsMade);

        public int MostOutAtOnce { get; private set; }

        public PublishCoalescer<PublishReceipt> Coalescer(int maxCallsInFlight) =>
            new(async message => (await SendAsync([message]))[0], SendAsync, maxCallsInFlight);

        public async Task<Call> NextCallAsync()
        {
            Assert.True(await _called.WaitAsync(Wait), "no call was made");
            Assert.True(_calls.TryDequeue(out var call));
            return call;
        }

        private async Task<IReadOnlyList<PublishReceipt>> SendAsync(IReadOnlyList<BrokerMessage> messages)
        {
            Interlocked.Increment(ref _callsMade);
            lock (_lock)
            {
                MostOutAtOnce = Math.Max(MostOutAtOnce, ++_out);
            }

            try
            {
                var call = new Call([.. messages.Select(m => m.Id!)]);
                if (AnswerAtOnceAfter is { } pause)
                {
                    await Task.Delay(pause);
                    call.Answer();
                }
                else
                {
                    _calls.Enqueue(call);
                    _called.Release();
                }

                await call.Answered.Task;
                if (messages.Select(m => Refuse(m.Id!)).FirstOrDefault(r => r is not null) is { } refusal)
                {
                    throw refusal;
                }

                lock (_lock)
                {
                    Stored.AddRange(call.Ids);
                }

                return [.. call.Ids.Select((id, i) => new PublishReceipt(id, i))];
            }
            finally
            {
                lock (_lock)
                {
                    _out--;
                }
            }
        }
    }

    private sealed class Call(IReadOnlyList<string> ids)
    {
        public IReadOnlyList<string> Ids { get; } = ids;

        public TaskCompletionSource Answered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Answer() => Answered.TrySetResult();

        public void Fail(Exception exception) => Answered.TrySetException(exception);
    }
}
