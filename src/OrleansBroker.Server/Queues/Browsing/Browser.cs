using OrleansBroker.Errors;
using OrleansBroker.Queues;

namespace OrleansBroker.Server.Queues.Browsing;

/// <summary>Peek: the queue's live messages in sequence order with where each stands, changing nothing.</summary>
internal static class Browser
{
    public static async Task<IReadOnlyList<PeekedMessage>> PeekAsync(QueueState queue, long afterSequence, int max, CancellationToken cancellationToken)
    {
        if (max < 1 || max > BrokerLimits.MaxBatchCount)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Peek shows 1 to {BrokerLimits.MaxBatchCount} messages; {max} were asked for.");
        }

        await queue.Log.Recovery;
        var entries = queue.Log.TrackedEntries(afterSequence).Take(max).ToList();
        var peeked = new List<PeekedMessage>(entries.Count);
        foreach (var entry in entries)
        {
            cancellationToken.ThrowIfCancellationRequested(); // Each read may go to storage.
            var message = await queue.Log.ReadMessageAsync(entry);
            var leased = queue.Leases.TryGet(entry.Sequence, out var lease);
            var state = queue.Leaving.Contains(entry.Sequence) ? MessageState.Leaving
                : leased ? MessageState.InFlight
                : entry.NotBefore > 0 ? MessageState.Delayed
                : MessageState.Ready;
            peeked.Add(new PeekedMessage(entry.Sequence, message.MessageId, message.Body, message.ContentType, message.Headers, message.RoutingKey,
                message.EnqueuedAt, entry.Attempts, state, state == MessageState.Delayed ? new DateTimeOffset(entry.NotBefore, TimeSpan.Zero) : null,
                entry.ExpiresAt == 0 ? null : new DateTimeOffset(entry.ExpiresAt, TimeSpan.Zero), entry.Priority, entry.OrderingKey,
                state == MessageState.InFlight ? lease!.ExpiresAt : null));
        }

        return peeked;
    }
}
