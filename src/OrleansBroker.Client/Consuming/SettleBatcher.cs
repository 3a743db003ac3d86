using OrleansBroker.Queues;

namespace OrleansBroker.Client.Consuming;

/// <summary>
/// Sends one queue's settlements in batches: one Settle call in flight at a time, and whatever
/// arrives meanwhile goes in the next call. Each caller still gets its own outcome.
/// </summary>
internal sealed class SettleBatcher(IQueueGrain queue)
{
    private const int MaxBatch = 1000;

    /// <summary>
    /// How long the batcher waits for one Settle call before it fails that batch's callers and sends the next one.
    /// A call to a silo that just died can hang until Orleans' 30 s response timeout; without this limit every ack
    /// behind it would wait too, and the queue's new activation would let those leases expire and deliver again.
    /// </summary>
    internal static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Tries of one Settle call that fails without an answer from the broker.</summary>
    private const int Attempts = 3;

    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(250);

    private readonly Lock _lock = new();
    private readonly List<(Settlement Settlement, TaskCompletionSource<SettleStatus> Outcome)> _pending = [];
    private bool _sending;

    public Task<SettleStatus> SettleAsync(Settlement settlement)
    {
        var outcome = new TaskCompletionSource<SettleStatus>(TaskCreationOptions.RunContinuationsAsynchronously);
        bool start;
        lock (_lock)
        {
            _pending.Add((settlement, outcome));
            start = !_sending;
            _sending = true;
        }

        if (start)
        {
            _ = Task.Run(SendLoopAsync);
        }

        return outcome.Task;
    }

    /// <summary>
    /// One Settle call, sent again up to <see cref="Attempts"/> times when it is refused at once without an answer from the broker
    /// (the queue's silo is stopping): the queue moves to another silo, which holds the handed-off lease. A timeout is not retried:
    /// a dead silo would hold every later ack behind it (see <see cref="CallTimeout"/>). Settling again is harmless (LeaseLost).
    /// </summary>
    private async Task<IReadOnlyList<SettleStatus>> SendAsync(List<Settlement> settlements)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                return await queue.Settle(settlements).WaitAsync(CallTimeout).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is not (Errors.BrokerException or TimeoutException) && attempt < Attempts)
            {
                await Task.Delay(RetryPause).ConfigureAwait(false);
            }
        }
    }

    private async Task SendLoopAsync()
    {
        while (true)
        {
            List<(Settlement Settlement, TaskCompletionSource<SettleStatus> Outcome)> batch;
            lock (_lock)
            {
                if (_pending.Count == 0)
                {
                    _sending = false;
                    return;
                }

                batch = _pending.Take(MaxBatch).ToList();
                _pending.RemoveRange(0, batch.Count);
            }

            try
            {
                var results = await SendAsync(batch.Select(b => b.Settlement).ToList()).ConfigureAwait(false);
                for (var i = 0; i < batch.Count; i++)
                {
                    batch[i].Outcome.TrySetResult(results[i]);
                }
            }
            catch (Exception exception)
            {
                foreach (var (_, outcome) in batch)
                {
                    outcome.TrySetException(exception);
                }
            }
        }
    }
}
