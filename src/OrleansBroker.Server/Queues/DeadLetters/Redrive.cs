using Microsoft.Extensions.Logging;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Log;

namespace OrleansBroker.Server.Queues.DeadLetters;

/// <summary>
/// Redrive: a dead-letter queue sends its messages back to the queues they came from (the source header each carries), as they
/// were first published. Stored in the source first, settled here after: a failure in between duplicates, never loses.
/// </summary>
/// <remarks>
/// <c>store</c>: stores redriven messages in the named source queue.<br/>
/// <c>dispatch</c>: Called when messages that did not move are ready here again.
/// </remarks>
internal sealed partial class Redrive(QueueState queue, Func<string, IReadOnlyList<BrokerMessage>, Task<IReadOnlyList<PublishReceipt>>> store, Action dispatch, ILogger logger)
{
    /// <summary>Messages a redrive sends back per publish call.</summary>
    public const int Batch = 100;

    public async Task<RedriveResult> RunAsync(RedriveRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (request.Max is < 1)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Redrive Max {request.Max} must be at least 1, or absent for all.");
        }

        await queue.Log.Recovery;
        var (chosen, skipped) = await ChooseAsync(request);
        long moved = 0;
        try
        {
            foreach (var group in chosen.GroupBy(c => c.Source, StringComparer.Ordinal))
            {
                foreach (var batch in group.Chunk(Batch))
                {
                    if (cancellationToken.IsCancellationRequested)
                    {
                        break; // The caller gave up: what has not moved stays here, ready.
                    }

                    await store(group.Key, batch.Select(c => c.Message).ToList());
                    foreach (var (entry, _, _) in batch)
                    {
                        queue.Leaving.Remove(entry.Sequence);
                        queue.Remove(entry);
                    }

                    moved += batch.Length;
                    await queue.Log.CommitAsync();
                }
            }
        }
        finally
        {
            // What did not move is ready here again, in its place.
            foreach (var (entry, _, _) in chosen)
            {
                if (queue.Leaving.Remove(entry.Sequence))
                {
                    queue.Ready.MakeReady(entry);
                }
            }

            dispatch();
        }

        LogRedriven(logger, queue.Name, moved, skipped);
        cancellationToken.ThrowIfCancellationRequested();
        return new RedriveResult(moved, skipped);
    }

    /// <summary>
    /// The messages to move, chosen up front and marked leaving so that no consumer of this queue is handed them meanwhile;
    /// and how many matched but name no source queue.
    /// </summary>
    private async Task<(List<(LogEntry Entry, string Source, BrokerMessage Message)> Chosen, long Skipped)> ChooseAsync(RedriveRequest request)
    {
        var ids = request.MessageIds is null ? null : new HashSet<string>(request.MessageIds, StringComparer.Ordinal);
        var limit = request.Max ?? int.MaxValue;
        var chosen = new List<(LogEntry Entry, string Source, BrokerMessage Message)>();
        long skipped = 0;
        foreach (var entry in queue.Log.TrackedEntries().ToList())
        {
            if (chosen.Count >= limit)
            {
                break;
            }

            if (!queue.IsIdle(entry.Sequence) || entry.NotBefore > 0)
            {
                continue;
            }

            var message = await queue.Log.ReadMessageAsync(entry);
            if (ids is not null && !ids.Contains(message.MessageId))
            {
                continue;
            }

            // Checked again: reading the body may have let a delivery or another redrive in.
            if (queue.Leases.IsLeased(entry.Sequence) || !queue.Leaving.Add(entry.Sequence))
            {
                continue;
            }

            if (message.Headers?.GetValueOrDefault(BrokerHeaders.SourceQueue) is not { Length: > 0 } source)
            {
                queue.Leaving.Remove(entry.Sequence);
                skipped++;
                continue;
            }

            chosen.Add((entry, source, ToRedriven(message)));
        }

        return (chosen, skipped);
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

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: redrove {Moved} messages to their source queues ({Skipped} without a source skipped)")]
    private static partial void LogRedriven(ILogger logger, string queue, long moved, long skipped);
}
