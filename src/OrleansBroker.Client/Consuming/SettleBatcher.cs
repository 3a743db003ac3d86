using OrleansBroker.Delivery;
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
                // A call that times out may still land; settling again is harmless (it reports LeaseLost).
                var results = await queue.Settle(batch.Select(b => b.Settlement).ToList()).WaitAsync(CallTimeout).ConfigureAwait(false);
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
