using OrleansBroker.Errors;
using OrleansBroker.Messages;

namespace OrleansBroker.Client.Publishing;

/// <summary>
/// One queue's single publishes, sent together when many are under way at once: a publish goes out at once while fewer
/// than <see cref="MaxCallsInFlight"/> publish calls to the queue are out; otherwise it joins the batch gathering meanwhile,
/// which goes (up to <see cref="BrokerLimits.MaxBatchCount"/> messages) as soon as a call returns. No linger, so a lone
/// publish waits for nothing; under load many share one call and one commit. Each caller still gets its own receipt once
/// its message is durable, in the order the calls were made for messages of one caller that awaits each. A batch the
/// broker refuses as a whole for one message (too large, invalid) is sent again message by message, so each caller hears
/// only of its own. A caller whose token is cancelled before its message goes out is not sent.
/// </summary>
internal sealed class PublishCoalescer(Func<IReadOnlyList<BrokerMessage>, Task<IReadOnlyList<PublishReceipt>>> send)
{
    /// <summary>Publish calls to one queue out at once; more publishes wait for one of them and go together.</summary>
    public const int MaxCallsInFlight = 4;

    private readonly Lock _lock = new();
    private List<Pending> _gathering = [];
    private int _calls;

    public Task<PublishReceipt> PublishAsync(BrokerMessage message, CancellationToken cancellationToken)
    {
        var pending = new Pending(message, cancellationToken);
        List<Pending>? batch = null;
        lock (_lock)
        {
            _gathering.Add(pending);
            if (_calls < MaxCallsInFlight)
            {
                _calls++;
                batch = Take();
            }
        }

        if (batch is not null)
        {
            _ = SendLoopAsync(batch);
        }

        return cancellationToken.CanBeCanceled ? pending.Receipt.Task.WaitAsync(cancellationToken) : pending.Receipt.Task;
    }

    /// <summary>Up to a batch of what is gathering. Under the lock.</summary>
    private List<Pending> Take()
    {
        if (_gathering.Count <= BrokerLimits.MaxBatchCount)
        {
            var all = _gathering;
            _gathering = [];
            return all;
        }

        var first = _gathering.GetRange(0, BrokerLimits.MaxBatchCount);
        _gathering.RemoveRange(0, BrokerLimits.MaxBatchCount);
        return first;
    }

    /// <summary>Sends <paramref name="batch"/>, then what gathered meanwhile, until nothing is left; then frees its call.</summary>
    private async Task SendLoopAsync(List<Pending> batch)
    {
        while (true)
        {
            batch.RemoveAll(p => p.Cancelled());
            if (batch.Count > 0)
            {
                await SendAsync(batch).ConfigureAwait(false);
            }

            lock (_lock)
            {
                if (_gathering.Count == 0)
                {
                    _calls--;
                    return;
                }

                batch = Take();
            }
        }
    }

    private async Task SendAsync(List<Pending> batch)
    {
        IReadOnlyList<PublishReceipt> receipts;
        try
        {
            receipts = await send([.. batch.Select(p => p.Message)]).ConfigureAwait(false);
        }
        catch (BrokerException exception) when (batch.Count > 1 && exception.Code is BrokerErrorCode.MessageTooLarge or BrokerErrorCode.InvalidMessage or BrokerErrorCode.InvalidBatch)
        {
            // One message spoiled the batch: each goes alone, and its caller hears of its own outcome.
            await Task.WhenAll(batch.Select(p => SendAsync([p]))).ConfigureAwait(false);
            return;
        }
        catch (Exception exception)
        {
            foreach (var pending in batch)
            {
                pending.Receipt.TrySetException(exception);
            }

            return;
        }

        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Receipt.TrySetResult(receipts[i]);
        }
    }

    private sealed class Pending(BrokerMessage message, CancellationToken cancellationToken)
    {
        public BrokerMessage Message { get; } = message;

        public TaskCompletionSource<PublishReceipt> Receipt { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        /// <summary>Whether the caller gave up before the message went out (then it is not sent).</summary>
        public bool Cancelled() => cancellationToken.IsCancellationRequested && Receipt.TrySetCanceled(cancellationToken);
    }
}
