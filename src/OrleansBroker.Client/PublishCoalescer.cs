using OrleansBroker.Client.Hosting;
using OrleansBroker.Errors;
using OrleansBroker.Messages;

namespace OrleansBroker.Client;

/// <summary>
/// Sends one queue's (or topic's) single publishes in as few calls as the load allows, without a timer. A publish waits in
/// arrival order; a send queued to the thread pool takes everything waiting (up to <see cref="BrokerLimits.MaxBatchCount"/>
/// messages and <see cref="MaxBatchBytes"/> of bodies) into one call, as long as fewer than
/// <see cref="BrokerClientOptions.MaxPublishCallsInFlight"/> calls to it are unanswered; when that many are, what arrives
/// meanwhile goes out in the call the next answer frees. A quiet producer's publish leaves at once, alone; a burst of
/// publishes made together, or made while the calls are out, leaves together.
/// Each caller still gets its own receipt, only once its message is durable, and calls leave in arrival order. A batch is
/// stored all or none; when it is refused for something one of its messages may have caused alone (invalid or too large, a
/// full queue), nothing of it was stored and its halves are sent again in turn, split further where refused, so each caller
/// gets its own answer; a publish made later, in another call, may then be stored before them.
/// </summary>
/// <param name="sendOne">Publishes one message.</param>
/// <param name="sendBatch">Publishes 2 or more messages, all or none; one receipt per message.</param>
/// <param name="maxCallsInFlight">The most unanswered calls at once (1 or more).</param>
internal sealed class PublishCoalescer<TReceipt>(
    Func<BrokerMessage, Task<TReceipt>> sendOne,
    Func<IReadOnlyList<BrokerMessage>, Task<IReadOnlyList<TReceipt>>> sendBatch,
    int maxCallsInFlight)
{
    /// <summary>The most body bytes gathered into one call, 1 MiB; a larger message still goes, alone.</summary>
    public const int MaxBatchBytes = 1024 * 1024;

    private readonly Lock _lock = new();
    private readonly Queue<Waiting> _waiting = new();
    private int _inFlight;

    /// <summary>A <see cref="Flush"/> is queued to the thread pool and has not taken the lock yet.</summary>
    private bool _flushQueued;

    /// <summary>Publishes <paramref name="message"/>, alone or with others waiting beside it; completes once it is durable.</summary>
    public Task<TReceipt> PublishAsync(BrokerMessage message)
    {
        var waiting = new Waiting(message, new TaskCompletionSource<TReceipt>(TaskCreationOptions.RunContinuationsAsynchronously));
        bool flush;
        lock (_lock)
        {
            _waiting.Enqueue(waiting);
            flush = QueueFlushIfFree();
        }

        if (flush)
        {
            QueueFlush();
        }

        return waiting.Outcome.Task;
    }

    /// <summary>Whether to queue a <see cref="Flush"/>: something waits, a call is free and none is queued yet. Under the lock.</summary>
    private bool QueueFlushIfFree()
    {
        if (_flushQueued || _waiting.Count == 0 || _inFlight >= maxCallsInFlight)
        {
            return false;
        }

        _flushQueued = true;
        return true;
    }

    /// <summary>
    /// The send runs from the thread pool, queued on this thread: publishes made in one go (a loop, a burst of requests) are
    /// all waiting by the time it runs and leave in one call, without a timer.
    /// </summary>
    private void QueueFlush() => ThreadPool.UnsafeQueueUserWorkItem(static coalescer => coalescer.Flush(), this, preferLocal: true);

    /// <summary>Sends what waits in one call, if a call is free.</summary>
    private void Flush()
    {
        Waiting[] batch;
        bool again;
        lock (_lock)
        {
            _flushQueued = false;
            if (_waiting.Count == 0 || _inFlight >= maxCallsInFlight)
            {
                return;
            }

            batch = TakeBatch();
            _inFlight++;
            again = QueueFlushIfFree();
        }

        if (again)
        {
            QueueFlush();
        }

        _ = SendAsync(batch);
    }

    /// <summary>An answer came: its call is free for what waits.</summary>
    private void CallEnded()
    {
        bool flush;
        lock (_lock)
        {
            _inFlight--;
            flush = QueueFlushIfFree();
        }

        if (flush)
        {
            QueueFlush();
        }
    }

    /// <summary>The oldest waiting publishes, up to <see cref="BrokerLimits.MaxBatchCount"/> and <see cref="MaxBatchBytes"/> (at least one).</summary>
    private Waiting[] TakeBatch()
    {
        var count = 0;
        long bytes = 0;
        foreach (var waiting in _waiting)
        {
            if (count == BrokerLimits.MaxBatchCount || (count > 0 && bytes + waiting.Message.Body.Length > MaxBatchBytes))
            {
                break;
            }

            count++;
            bytes += waiting.Message.Body.Length;
        }

        var batch = new Waiting[count];
        for (var i = 0; i < count; i++)
        {
            batch[i] = _waiting.Dequeue();
        }

        return batch;
    }

    /// <summary>Sends one call's publishes and tells each caller its outcome; then the call is free again.</summary>
    private async Task SendAsync(Waiting[] batch)
    {
        try
        {
            await SendOrSplitAsync(batch).ConfigureAwait(false);
        }
        finally
        {
            CallEnded();
        }
    }

    /// <summary>
    /// Sends <paramref name="batch"/> in one call. Refused for what one of its messages may have caused alone, nothing of it
    /// was stored: each half is sent in turn, split again where refused, so one bad message among n costs about 2 log2 n calls
    /// and the others are stored in their order.
    /// </summary>
    private async Task SendOrSplitAsync(ArraySegment<Waiting> batch)
    {
        if (batch.Count == 1)
        {
            await SendAloneAsync(batch[0]).ConfigureAwait(false);
            return;
        }

        IReadOnlyList<TReceipt> receipts;
        try
        {
            receipts = await sendBatch([.. batch.Select(w => w.Message)]).ConfigureAwait(false);
        }
        catch (BrokerException exception) when (IsAboutOneMessage(exception.Code))
        {
            var half = batch.Count / 2;
            await SendOrSplitAsync(batch[..half]).ConfigureAwait(false);
            await SendOrSplitAsync(batch[half..]).ConfigureAwait(false);
            return;
        }
        catch (Exception exception)
        {
            foreach (var waiting in batch)
            {
                waiting.Outcome.TrySetException(exception);
            }

            return;
        }

        for (var i = 0; i < batch.Count; i++)
        {
            batch[i].Outcome.TrySetResult(receipts[i]);
        }
    }

    private async Task SendAloneAsync(Waiting waiting)
    {
        try
        {
            waiting.Outcome.TrySetResult(await sendOne(waiting.Message).ConfigureAwait(false));
        }
        catch (Exception exception)
        {
            waiting.Outcome.TrySetException(exception);
        }
    }

    /// <summary>Refusals a batch can get for one of its messages (the whole batch is refused, nothing stored).</summary>
    private static bool IsAboutOneMessage(BrokerErrorCode code) =>
        code is BrokerErrorCode.InvalidMessage or BrokerErrorCode.MessageTooLarge or BrokerErrorCode.QueueFull or BrokerErrorCode.InvalidBatch;

    private readonly record struct Waiting(BrokerMessage Message, TaskCompletionSource<TReceipt> Outcome);
}
