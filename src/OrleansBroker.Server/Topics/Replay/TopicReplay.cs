using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Topics.Routing;

namespace OrleansBroker.Server.Topics.Replay;

/// <summary>
/// Pages through a topic's retained messages from a <see cref="ReplayCursor"/> and hands those retained in its time window
/// that the subscription takes to its queue, transformed, storing the cursor after every page. A failure of storage or of a
/// call is retried from the stored cursor with backoff (100 ms doubling to 5 s) for as long as the replay runs; an error that
/// says the replay cannot succeed (the subscription's queue is gone, say) ends it.
/// </summary>
internal sealed class TopicReplay(string topic, Route route, int maxMessageBytes, TimeProvider time, IReplayIo io)
{
    /// <summary>Retained messages read per page.</summary>
    public const int PageSize = BrokerLimits.MaxBatchCount;

    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);

    /// <summary>Runs the replay to its end, until another replaced it, or until <paramref name="stopped"/> says so; returns how it ended.</summary>
    public async Task<ReplayOutcome> RunAsync(ReplayCursor cursor, Func<bool> stopped, Action<Exception, ReplayCursor, TimeSpan> retrying)
    {
        var delay = FirstRetryDelay;
        while (!stopped())
        {
            try
            {
                var page = await io.PeekRetainedAsync(cursor.After, PageSize);
                if (page.Count == 0)
                {
                    return await io.SaveAsync(cursor, done: true) ? new ReplayOutcome(cursor, Done: true, null) : new ReplayOutcome(cursor, Done: false, null);
                }

                var (batch, dead) = Select(page, cursor);
                if (batch.Count > 0)
                {
                    await io.StoreAsync(route, batch, cursor.Deduplicate);
                }

                if (dead.Count > 0)
                {
                    await io.DeadLetterAsync(route, dead);
                }

                cursor = cursor with { After = page[^1].Sequence, Replayed = cursor.Replayed + batch.Count };
                if (!await io.SaveAsync(cursor, done: false))
                {
                    return new ReplayOutcome(cursor, Done: false, null);
                }

                delay = FirstRetryDelay;
            }
            catch (BrokerException exception) when (!IsPassing(exception))
            {
                await io.SaveAsync(cursor, done: true);
                return new ReplayOutcome(cursor, Done: false, exception);
            }
            catch (Exception exception)
            {
                retrying(exception, cursor, delay);
                await Task.Delay(delay, time);
                delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, MaxRetryDelay.Ticks));
            }
        }

        return new ReplayOutcome(cursor, Done: false, null);
    }

    /// <summary>Of one page, the messages in the replay's window that the subscription takes, and those its transform failed on.</summary>
    private (List<BrokerMessage> Batch, List<BrokerMessage> Dead) Select(IReadOnlyList<PeekedMessage> page, ReplayCursor cursor)
    {
        var batch = new List<BrokerMessage>();
        var dead = new List<BrokerMessage>();
        foreach (var kept in page)
        {
            if (kept.EnqueuedAt < cursor.Since || kept.EnqueuedAt > cursor.Until)
            {
                continue;
            }

            var message = new BrokerMessage(kept.MessageId, kept.Body, kept.ContentType, kept.Headers, kept.RoutingKey, Priority: kept.Priority, OrderingKey: kept.OrderingKey);
            if (route.Matches(message))
            {
                (route.TryTransform(message, topic, time.GetUtcNow(), maxMessageBytes, out var routed) ? batch : dead).Add(routed);
            }
        }

        return (batch, dead);
    }

    private static bool IsPassing(BrokerException exception) =>
        exception.Code is BrokerErrorCode.StorageUnavailable or BrokerErrorCode.StorageFull;
}
