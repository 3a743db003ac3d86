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
                var results = await queue.Settle(batch.Select(b => b.Settlement).ToList()).ConfigureAwait(false);
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
