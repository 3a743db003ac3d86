using System.Collections.Concurrent;
using System.Diagnostics;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;

namespace OrleansBroker.Client;

/// <summary>
/// Places publishes on a queue's or a topic's partitions (see <see cref="QueuePartitions"/>): a keyed message goes straight to the
/// partition of its key; messages without a key are spread, one partition per call in turn. The partition count is asked
/// once per queue and refreshed in the background every <see cref="RefreshAfter"/>; a partition that says the count is
/// out of date (<see cref="BrokerErrorCode.WrongPartition"/>) makes the client ask again and place that share again.
/// </summary>
/// <param name="countOf">Asks partition 0 of a queue or topic for its partition count.</param>
/// <param name="send">Publishes messages to one partition (a grain name), all or none; returns one receipt per message.</param>
internal sealed class PartitionRouter<TReceipt>(Func<string, Task<int>> countOf, Func<string, IReadOnlyList<BrokerMessage>, Task<IReadOnlyList<TReceipt>>> send)
{
    /// <summary>How old a cached partition count may get before it is asked again (in the background).</summary>
    public static readonly TimeSpan RefreshAfter = TimeSpan.FromSeconds(30);

    /// <summary>How many times a share refused for a stale count is placed again before the refusal reaches the caller.</summary>
    private const int MaxReplacements = 4;

    private readonly ConcurrentDictionary<string, Known> _known = new(StringComparer.Ordinal);
    private int _spread;

    /// <summary>
    /// Whether a publish to <paramref name="queue"/> goes to its own grain as it is: a queue known to have one partition, or a
    /// partition named directly ("orders~2"), which takes the publish and refuses keys that are not its own. The caller then
    /// calls the grain itself, and a publish to an unpartitioned queue costs nothing more than before partitions.
    /// </summary>
    public bool GoesStraightTo(string queue) => (TryKnown(queue, out var count) && count == 1) || QueuePartitions.Parse(queue).Index > 0;

    public async Task<IReadOnlyList<TReceipt>> PublishAsync(string queue, IReadOnlyList<BrokerMessage> messages, CancellationToken cancellationToken)
    {
        var count = QueuePartitions.Parse(queue).Index > 0 ? 1 : TryKnown(queue, out var known) ? known : await RefreshAsync(queue).ConfigureAwait(false);
        if (count == 1)
        {
            return await send(queue, messages).WaitAsync(cancellationToken).ConfigureAwait(false);
        }

        var receipts = new TReceipt[messages.Count];
        IReadOnlyList<int> pending = [.. Enumerable.Range(0, messages.Count)];
        for (var attempt = 1; ; attempt++)
        {
            var spreadTo = (int)((uint)Interlocked.Increment(ref _spread) % (uint)count);
            var shares = pending.GroupBy(i => QueuePartitions.KeyOf(messages[i]) is { } key ? QueuePartitions.Of(key, count) : spreadTo)
                .Select(g => (Indexes: g.ToList(), Call: send(QueuePartitions.NameOf(queue, g.Key), [.. g.Select(i => messages[i])])))
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
                else if (attempt <= MaxReplacements && call.Exception?.GetBaseException() is BrokerException { Code: BrokerErrorCode.WrongPartition or BrokerErrorCode.QueueNotFound })
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

            // The queue was recreated or grew: ask again and place what was refused (nothing of a refused share was stored). While a
            // growth is under way the old partitions learn the new count just before partition 0 does: a second refusal waits a little.
            if (attempt > 1)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), cancellationToken).ConfigureAwait(false);
            }

            count = await RefreshAsync(queue).WaitAsync(cancellationToken).ConfigureAwait(false);
            pending = stale;
        }
    }

    /// <summary>How many partitions <paramref name="queue"/> has (1 for a partition named directly), from the cache when known.</summary>
    public async ValueTask<int> CountAsync(string queue) =>
        QueuePartitions.Parse(queue).Index > 0 ? 1 : TryKnown(queue, out var known) ? known : await RefreshAsync(queue).ConfigureAwait(false);

    /// <summary>The cached partition count, if there is one; an old one is asked again in the background and used meanwhile.</summary>
    private bool TryKnown(string queue, out int count)
    {
        if (!_known.TryGetValue(queue, out var known))
        {
            count = 0;
            return false;
        }

        if (Stopwatch.GetElapsedTime(known.AskedAt) > RefreshAfter && _known.TryUpdate(queue, known with { AskedAt = Stopwatch.GetTimestamp() }, known))
        {
            _ = RefreshAsync(queue).ContinueWith(t => _ = t.Exception, TaskScheduler.Default);
        }

        count = known.Count;
        return true;
    }

    private async Task<int> RefreshAsync(string queue)
    {
        var count = await countOf(queue).ConfigureAwait(false);
        _known[queue] = new Known(count, Stopwatch.GetTimestamp());
        return count;
    }

    private sealed record Known(int Count, long AskedAt);
}
