using System.Collections.Concurrent;
using System.Diagnostics;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;

namespace OrleansBroker.Client;

/// <summary>
/// Places publishes on a queue's partitions (see <see cref="QueuePartitions"/>): a keyed message goes straight to the
/// partition of its key; messages without a key are spread, one partition per call in turn. The partition count is asked
/// once per queue and refreshed in the background every <see cref="RefreshAfter"/>; a partition that says the count is
/// out of date (<see cref="BrokerErrorCode.WrongPartition"/>) makes the client ask again and place that share again.
/// </summary>
internal sealed class PartitionRouter(IClusterClient cluster)
{
    /// <summary>How old a cached partition count may get before it is asked again (in the background).</summary>
    public static readonly TimeSpan RefreshAfter = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<string, Known> _known = new(StringComparer.Ordinal);
    private int _spread;

    public async Task<IReadOnlyList<PublishReceipt>> PublishAsync(string queue, IReadOnlyList<BrokerMessage> messages, CancellationToken cancellationToken)
    {
        // A partition named directly ("orders~2") takes the publish as it is, and refuses keys that are not its own.
        var count = QueuePartitions.Parse(queue).Index > 0 ? 1 : await CountAsync(queue).ConfigureAwait(false);
        if (count == 1)
        {
            return await SendAsync(queue, messages).WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        var receipts = new PublishReceipt[messages.Count];
        IReadOnlyList<int> pending = [.. Enumerable.Range(0, messages.Count)];
        for (var attempt = 1; ; attempt++)
        {
            var spreadTo = (int)((uint)Interlocked.Increment(ref _spread) % (uint)count);
            var shares = pending.GroupBy(i => QueuePartitions.KeyOf(messages[i]) is { } key ? QueuePartitions.Of(key, count) : spreadTo)
                .Select(g => (Indexes: g.ToList(), Call: SendAsync(QueuePartitions.NameOf(queue, g.Key), [.. g.Select(i => messages[i])])))
                .ToList();
            try
            {
                await Task.WhenAll(shares.Select(s => s.Call)).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (Exception) when (!cancellationToken.IsCancellationRequested)
            {
                // Looked at share by share below.
            }

            var stale = new List<int>();
            foreach (var (indexes, call) in shares)
            {
                if (call.IsCompletedSuccessfully)
                {
                    for (var i = 0; i < indexes.Count; i++)
                    {
                        receipts[indexes[i]] = call.Result[i];
                    }
                }
                else if (attempt == 1 && call.Exception?.GetBaseException() is BrokerException { Code: BrokerErrorCode.WrongPartition or BrokerErrorCode.QueueNotFound })
                {
                    stale.AddRange(indexes);
                }
                else
                {
                    await call.ConfigureAwait(false);
                }
            }

            if (stale.Count == 0)
            {
                return receipts;
            }

            // The queue was recreated or grew: ask again and place what was refused (nothing of a refused share was stored).
            count = await RefreshAsync(queue).WaitAsync(cancellationToken).ConfigureAwait(false);
            pending = stale;
        }
    }

    private Task<IReadOnlyList<PublishReceipt>> SendAsync(string partition, IReadOnlyList<BrokerMessage> messages)
    {
        var grain = cluster.GetGrain<IQueueGrain>(partition);
        return messages.Count == 1 ? One(grain.Publish(messages[0])) : grain.PublishBatch(messages);

        static async Task<IReadOnlyList<PublishReceipt>> One(Task<PublishReceipt> call) => [await call.ConfigureAwait(false)];
    }

    private ValueTask<int> CountAsync(string queue)
    {
        if (!_known.TryGetValue(queue, out var known))
        {
            return new ValueTask<int>(RefreshAsync(queue));
        }

        if (Stopwatch.GetElapsedTime(known.AskedAt) > RefreshAfter && _known.TryUpdate(queue, known with { AskedAt = Stopwatch.GetTimestamp() }, known))
        {
            _ = RefreshAsync(queue).ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
        }

        return new ValueTask<int>(known.Count);
    }

    private async Task<int> RefreshAsync(string queue)
    {
        var count = await cluster.GetGrain<IQueueGrain>(queue).GetPartitions().ConfigureAwait(false);
        _known[queue] = new Known(count, Stopwatch.GetTimestamp());
        return count;
    }

    private sealed record Known(int Count, long AskedAt);
}
