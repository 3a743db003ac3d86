using System.Collections.Concurrent;
using OrleansBroker.Client.Publishing;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using Xunit;

namespace OrleansBroker.Tests.Client;

/// <summary>Concurrent single publishes sharing calls, without a silo: the broker's side is a recording stand-in.</summary>
public sealed class PublishCoalescerTests
{
    /// <summary>Records each call; <see cref="Hold"/> makes calls wait until released.</summary>
    private sealed class Broker
    {
        private long _sequence;

        public ConcurrentQueue<IReadOnlyList<BrokerMessage>> Calls { get; } = new();

        public TaskCompletionSource? Hold { get; set; }

        public async Task<IReadOnlyList<PublishReceipt>> SendAsync(IReadOnlyList<BrokerMessage> messages)
        {
            Calls.Enqueue(messages);
            if (Hold is { } hold)
            {
                await hold.Task;
            }

            if (messages.Count > 1 && messages.Any(m => m.Id == "bad"))
            {
                throw new BrokerException(BrokerErrorCode.InvalidMessage, "message bad is invalid");
            }

            if (messages is [{ Id: "bad" }])
            {
                throw new BrokerException(BrokerErrorCode.InvalidMessage, "message bad is invalid");
            }

            if (messages.Any(m => m.Id == "down"))
            {
                throw new BrokerException(BrokerErrorCode.StorageUnavailable, "storage is down");
            }

            return [.. messages.Select(m => new PublishReceipt(m.Id!, Interlocked.Increment(ref _sequence)))];
        }
    }

    private static BrokerMessage Message(string id) => new(id, [1]);

    [Fact]
    public async Task A_lone_publish_goes_at_once_in_a_call_of_its_own()
    {
        var broker = new Broker();
        var coalescer = new PublishCoalescer(broker.SendAsync);
        var receipt = await coalescer.PublishAsync(Message("a"), CancellationToken.None);
        Assert.Equal(new PublishReceipt("a", 1), receipt);
        Assert.Equal(["a"], Assert.Single(broker.Calls).Select(m => m.Id));
    }

    [Fact]
    public async Task Under_load_publishes_gather_while_calls_are_out_and_each_caller_gets_its_own_receipt()
    {
        var broker = new Broker { Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var coalescer = new PublishCoalescer(broker.SendAsync);
        var first = Enumerable.Range(0, PublishCoalescer.MaxCallsInFlight).Select(i => coalescer.PublishAsync(Message($"first-{i}"), CancellationToken.None)).ToList();
        var gathered = Enumerable.Range(0, 50).Select(i => coalescer.PublishAsync(Message($"m-{i}"), CancellationToken.None)).ToList();
        Assert.Equal(PublishCoalescer.MaxCallsInFlight, broker.Calls.Count);

        broker.Hold.SetResult();
        var receipts = await Task.WhenAll(first.Concat(gathered));
        Assert.Equal(first.Concat(gathered).Select((_, i) => i < first.Count ? $"first-{i}" : $"m-{i - first.Count}"), receipts.Select(r => r.MessageId));
        Assert.Equal(PublishCoalescer.MaxCallsInFlight + 1, broker.Calls.Count);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"m-{i}"), broker.Calls.Last().Select(m => m.Id));
    }

    [Fact]
    public async Task A_batch_spoiled_by_one_message_is_sent_again_one_by_one_and_only_its_caller_fails()
    {
        var broker = new Broker { Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var coalescer = new PublishCoalescer(broker.SendAsync);
        var blockers = Enumerable.Range(0, PublishCoalescer.MaxCallsInFlight).Select(i => coalescer.PublishAsync(Message($"blocker-{i}"), CancellationToken.None)).ToList();
        var good = coalescer.PublishAsync(Message("good"), CancellationToken.None);
        var bad = coalescer.PublishAsync(Message("bad"), CancellationToken.None);
        var other = coalescer.PublishAsync(Message("other"), CancellationToken.None);
        broker.Hold.SetResult();

        await Task.WhenAll(blockers);
        Assert.Equal("good", (await good).MessageId);
        Assert.Equal("other", (await other).MessageId);
        Assert.Equal(BrokerErrorCode.InvalidMessage, (await Assert.ThrowsAsync<BrokerException>(() => bad)).Code);
    }

    [Fact]
    public async Task A_failed_call_fails_its_callers_and_a_caller_cancelled_before_sending_is_not_sent()
    {
        var broker = new Broker { Hold = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously) };
        var coalescer = new PublishCoalescer(broker.SendAsync);
        var blockers = Enumerable.Range(0, PublishCoalescer.MaxCallsInFlight).Select(i => coalescer.PublishAsync(Message($"blocker-{i}"), CancellationToken.None)).ToList();
        using var cancel = new CancellationTokenSource();
        var cancelled = coalescer.PublishAsync(Message("cancelled"), cancel.Token);
        var down = coalescer.PublishAsync(Message("down"), CancellationToken.None);
        var sameCall = coalescer.PublishAsync(Message("same-call"), CancellationToken.None);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        broker.Hold.SetResult();

        await Task.WhenAll(blockers);
        Assert.Equal(BrokerErrorCode.StorageUnavailable, (await Assert.ThrowsAsync<BrokerException>(() => down)).Code);
        Assert.Equal(BrokerErrorCode.StorageUnavailable, (await Assert.ThrowsAsync<BrokerException>(() => sameCall)).Code);
        Assert.DoesNotContain(broker.Calls.SelectMany(c => c), m => m.Id == "cancelled");
    }
}
