using Microsoft.Extensions.Logging;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Queues;
using OrleansBroker.Server.Topics.Routing;

namespace OrleansBroker.Server.Topics.Replay;

/// <summary>
/// A topic's replays of retained messages: each is a <see cref="ReplayCursor"/> in the topic's state, run here in the
/// background (<see cref="TopicReplay"/>) and stored after every page; a new activation resumes the stored ones, and the
/// topic keeps a reminder while any is stored so that a restart does not leave them waiting for the next call.
/// </summary>
/// <param name="topic">The topic's name.</param>
/// <param name="store">The topic's state, where the cursors live.</param>
/// <param name="grains">To reach the retained queue and the subscriptions' queues.</param>
/// <param name="time">The topic's clock.</param>
/// <param name="maxMessageBytes">The silo's message size limit, for transformed messages.</param>
/// <param name="updateReminder">Registers the topic's reminder while cursors are stored, removes it once none is.</param>
/// <param name="keepAlive">Called after every page: the topic stays active while a replay runs.</param>
/// <param name="logger">Where replays report.</param>
internal sealed partial class TopicReplays(
    string topic,
    TopicStateStore store,
    IGrainFactory grains,
    TimeProvider time,
    int maxMessageBytes,
    Func<Task> updateReminder,
    Action keepAlive,
    ILogger logger) : IReplayIo
{
    /// <summary>Cursor ids of the replays running in this activation.</summary>
    private readonly HashSet<string> _running = [];
    private bool _stopped;

    private Dictionary<string, ReplayCursor> Cursors => store.State.Replays;

    /// <summary>
    /// A replay of what was retained since <paramref name="since"/>, up to now, in the state (the caller stores it and then
    /// calls <see cref="StartAsync"/>); it replaces one the subscription had, which stops at its next page.
    /// </summary>
    public ReplayCursor Add(string subscription, DateTimeOffset since, bool deduplicate)
    {
        var cursor = new ReplayCursor(Guid.NewGuid().ToString("N"), subscription, since, time.GetUtcNow(), deduplicate,
            RetainedMarks.StartAfter(store.State.RetainedMarks, since), Replayed: 0);
        Cursors[subscription] = cursor;
        return cursor;
    }

    /// <summary>Starts a stored replay.</summary>
    public async Task StartAsync(ReplayCursor cursor, TopicRouter router)
    {
        await updateReminder();
        Run(cursor, router);
    }

    /// <summary>Starts every stored replay not running yet (after activation, on the reminder).</summary>
    public void Resume(TopicRouter router)
    {
        foreach (var cursor in Cursors.Values.ToList())
        {
            Run(cursor, router);
        }
    }

    /// <summary>Stops the replays at their next page (the topic is deactivating); their cursors stay stored.</summary>
    public void Stop() => _stopped = true;

    private void Run(ReplayCursor cursor, TopicRouter router)
    {
        if (router.Find(cursor.Subscription) is { } route && _running.Add(cursor.Id))
        {
            _ = RunAsync(cursor, route);
        }
    }

    private async Task RunAsync(ReplayCursor cursor, Route route)
    {
        try
        {
            var replay = new TopicReplay(topic, route, maxMessageBytes, time, this);
            var outcome = await replay.RunAsync(cursor, () => _stopped, (exception, at, delay) => LogRetry(exception, topic, at.Subscription, at.Replayed, delay));
            if (outcome.Done)
            {
                LogReplayed(topic, route.Subscription.Name, outcome.Cursor.Replayed, cursor.Since);
            }
            else if (outcome.Error is { } error)
            {
                LogEnded(error, topic, route.Subscription.Name, outcome.Cursor.Replayed);
            }

            if (outcome.Done || outcome.Error is not null)
            {
                await updateReminder();
            }
        }
        catch (Exception exception)
        {
            // The cursor stays stored: the reminder brings the replay back.
            LogEnded(exception, topic, route.Subscription.Name, cursor.Replayed);
        }
        finally
        {
            _running.Remove(cursor.Id);
        }
    }

    public Task<IReadOnlyList<PeekedMessage>> PeekRetainedAsync(long after, int max) =>
        grains.GetGrain<IQueueGrain>(TopicRouter.RetainedQueue(topic)).Peek(after, max);

    public Task StoreAsync(Route route, IReadOnlyList<BrokerMessage> messages, bool deduplicate) => deduplicate
        ? grains.GetGrain<IQueueGrain>(route.Queue).PublishBatch(messages)
        : grains.GetGrain<IDeadLetterTarget>(route.Queue).AcceptRedriven(messages);

    public Task DeadLetterAsync(Route route, IReadOnlyList<BrokerMessage> messages) =>
        grains.GetGrain<IDeadLetterTarget>(route.DeadLetterQueue!).AcceptDeadLetters(messages);

    public async Task<bool> SaveAsync(ReplayCursor cursor, bool done)
    {
        if (!Cursors.TryGetValue(cursor.Subscription, out var current) || current.Id != cursor.Id)
        {
            return false;
        }

        if (done)
        {
            Cursors.Remove(cursor.Subscription);
        }
        else
        {
            Cursors[cursor.Subscription] = cursor;
            keepAlive();
        }

        try
        {
            await store.WriteAsync();
        }
        catch (Exception)
        {
            // Stored with the topic's next write instead.
            store.Dirty = true;
            throw;
        }

        return true;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Topic {Topic}: replayed {Count} retained messages since {Since} to subscription {Subscription}")]
    private partial void LogReplayed(string topic, string subscription, long count, DateTimeOffset since);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Topic {Topic}: replay to subscription {Subscription} ended after {Count} messages")]
    private partial void LogEnded(Exception exception, string topic, string subscription, long count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Topic {Topic}: replay to subscription {Subscription} failed after {Count} messages; going on from there in {Delay}")]
    private partial void LogRetry(Exception exception, string topic, string subscription, long count, TimeSpan delay);
}
