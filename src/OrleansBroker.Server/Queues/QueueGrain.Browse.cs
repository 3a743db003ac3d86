using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Log;

namespace OrleansBroker.Server.Queues;

internal sealed partial class QueueGrain
{
    /// <summary>Messages a redrive sends back per publish call.</summary>
    private const int RedriveBatch = 100;

    public async Task<IReadOnlyList<PeekedMessage>> Peek(long afterSequence, int max)
    {
        EnsureCreated();
        if (max < 1 || max > BrokerLimits.MaxBatchCount)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Peek shows 1 to {BrokerLimits.MaxBatchCount} messages; {max} were asked for.");
        }

        await _log.Recovery;
        var entries = _log.TrackedEntries(afterSequence).Take(max).ToList();
        var peeked = new List<PeekedMessage>(entries.Count);
        foreach (var entry in entries)
        {
            var message = await _log.ReadMessageAsync(entry);
            var leased = _leases.TryGet(entry.Sequence, out var lease);
            var state = _leaving.Contains(entry.Sequence) ? MessageState.Leaving
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

    public async Task<RedriveResult> Redrive(RedriveRequest request)
    {
        EnsureCreated();
        ArgumentNullException.ThrowIfNull(request);
        if (request.Max is < 1)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Redrive Max {request.Max} must be at least 1, or absent for all.");
        }

        await _log.Recovery;
        var ids = request.MessageIds is null ? null : new HashSet<string>(request.MessageIds, StringComparer.Ordinal);
        var limit = request.Max ?? int.MaxValue;
        long moved = 0, skipped = 0;

        // Chosen up front and marked leaving, so that no consumer of this queue is handed them meanwhile.
        var chosen = new List<(LogEntry Entry, string Source, BrokerMessage Message)>();
        foreach (var entry in _log.TrackedEntries().ToList())
        {
            if (chosen.Count >= limit)
            {
                break;
            }

            if (_leases.IsLeased(entry.Sequence) || _leaving.Contains(entry.Sequence) || entry.NotBefore > 0)
            {
                continue;
            }

            var message = await _log.ReadMessageAsync(entry);
            if (ids is not null && !ids.Contains(message.MessageId))
            {
                continue;
            }

            // Checked again: reading the body may have let a delivery or another redrive in.
            if (_leases.IsLeased(entry.Sequence) || !_leaving.Add(entry.Sequence))
            {
                continue;
            }

            if (message.Headers?.GetValueOrDefault(BrokerHeaders.SourceQueue) is not { Length: > 0 } source)
            {
                _leaving.Remove(entry.Sequence);
                skipped++;
                continue;
            }

            chosen.Add((entry, source, ToRedriven(message)));
        }

        try
        {
            foreach (var group in chosen.GroupBy(c => c.Source, StringComparer.Ordinal))
            {
                foreach (var batch in group.Chunk(RedriveBatch))
                {
                    // Stored in the source first, removed here after: a failure in between duplicates, never loses.
                    await GrainFactory.GetGrain<IDeadLetterTarget>(group.Key).AcceptRedriven(batch.Select(c => c.Message).ToList());
                    foreach (var (entry, _, _) in batch)
                    {
                        _leaving.Remove(entry.Sequence);
                        _log.Settle(entry);
                        _ready.Finish(entry);
                    }

                    moved += batch.Length;
                    await _log.CommitAsync();
                }
            }
        }
        finally
        {
            // What did not move is ready here again, in its place.
            foreach (var (entry, _, _) in chosen)
            {
                if (_leaving.Remove(entry.Sequence))
                {
                    _ready.MakeReady(entry);
                }
            }

            Dispatch();
        }

        LogRedriven(_name, moved, skipped);
        return new RedriveResult(moved, skipped);
    }

    /// <summary>The message as first published: the broker's dead-letter headers dropped, the application's kept.</summary>
    private static BrokerMessage ToRedriven(StoredMessage message)
    {
        Dictionary<string, string>? headers = null;
        if (message.Headers is not null)
        {
            headers = message.Headers.Where(h => !h.Key.StartsWith(BrokerHeaders.ReservedPrefix, StringComparison.Ordinal)).ToDictionary();
        }

        return new BrokerMessage(message.MessageId, message.Body, message.ContentType, headers is { Count: > 0 } ? headers : null, message.RoutingKey,
            Priority: message.Priority, OrderingKey: message.OrderingKey);
    }

    [Microsoft.Extensions.Logging.LoggerMessage(Level = Microsoft.Extensions.Logging.LogLevel.Information, Message = "Queue {Queue}: redrove {Moved} messages to their source queues ({Skipped} without a source skipped)")]
    private partial void LogRedriven(string queue, long moved, long skipped);
}
