using Microsoft.Extensions.Logging;
using OrleansBroker.Errors;
using OrleansBroker.Queues;
using OrleansBroker.Server.Log;

namespace OrleansBroker.Server.Queues.Partitions;

/// <summary>
/// Growing a partitioned queue in place (<see cref="IQueueGrain.GrowPartitions"/>) without losing or reordering keyed messages.
/// The new count M is a multiple of the old count N, so a key's partition under M, taken mod N, is its partition under N: each
/// key either stays or moves from partition <c>j mod N</c> to a new partition j. Partition 0 runs the growth:
/// <list type="number">
/// <item>it records the target (<see cref="LogMeta.GrowingTo"/>), so a growth cut short is finished and not mixed with another;</item>
/// <item>it creates the new partitions, each held (<see cref="LogMeta.HeldForGrowth"/>): it takes publishes and delivers
/// messages without an ordering key, but keyed messages wait;</item>
/// <item>the old partitions learn M and from then on refuse moved keys (<see cref="BrokerErrorCode.WrongPartition"/>: the client
/// asks for the count again and sends them to their new partition); partition 0 learns it last and tells its consumers to
/// register again, which registers them with the new partitions;</item>
/// <item>each held partition asks its source, every <see cref="HeldPollInterval"/>, whether it still holds a message of a key that
/// moved (<see cref="HoldsMovedKeys"/>); once it does not, every older message of the held keys is settled, and the new
/// partition lets its keyed messages go, in order.</item>
/// </list>
/// Deduplication follows too: for the dedup window after it was added, a new partition also looks up at its source the ids it
/// does not know (<see cref="Publishing.Publisher"/>), so a publish retried across the growth is stored once.
/// </summary>
/// <remarks>
/// <c>lastAppend</c>: The last append handed to the log (appends complete in order).<br/>
/// <c>released</c>: Called when a held partition's keyed messages may go.
/// </remarks>
internal sealed partial class PartitionGrowth(QueueState queue, PartitionSet partitions, Func<Task> lastAppend, Action released, ILogger logger)
{
    /// <summary>How often a held partition asks its source whether the keys it took over are free.</summary>
    private static readonly TimeSpan HeldPollInterval = TimeSpan.FromSeconds(1);

    /// <summary>Learning a new count: appends placed under the old one may still be on their way into the groups.</summary>
    private int _learning;

    private bool _askingSource;
    private DateTimeOffset _nextSourceAsk;

    /// <summary>On partition 0: grows the queue to <paramref name="count"/> partitions, or finishes a growth to it that was cut short.</summary>
    public async Task GrowAsync(int count)
    {
        var from = partitions.Count;
        var growingTo = queue.Log.Meta.GrowingTo;
        if (growingTo != 0 && growingTo != count)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Queue '{queue.Queue}' is growing to {growingTo} partitions; grow it to {growingTo} again to finish that first.");
        }

        if (count == from && growingTo == 0)
        {
            return;
        }

        if (count <= from || count % from != 0 || count > QueueOptions.MaxPartitions)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Queue '{queue.Queue}' has {from} partitions; it can grow to a multiple of that up to {QueueOptions.MaxPartitions} " +
                $"({string.Join(", ", Enumerable.Range(2, QueueOptions.MaxPartitions / from - 1).Select(k => k * from))}), not to {count}.");
        }

        var grown = queue.Options with { Partitions = count };
        grown.Validate(queue.Queue);
        if (growingTo == 0)
        {
            queue.Log.UpdateMeta(meta => meta.GrowingTo = count);
            await queue.Log.CommitAsync();
            LogGrowing(logger, queue.Queue, from, count);
        }

        // Created held before any partition learns the count, so nothing reaches a new partition before it holds.
        await Task.WhenAll(Enumerable.Range(from, count - from).Select(j => partitions.Partition(j).CreateGrownPartition(grown, j % from)));
        await Task.WhenAll(Enumerable.Range(1, from - 1).Select(i => partitions.Partition(i).LearnPartitions(count)));
        await LearnAsync(count, meta => meta.GrowingTo = 0);
        LogGrown(logger, queue.Queue, from, count);
        foreach (var consumer in queue.Consumers.All)
        {
            _ = consumer.Observer.Moving();
        }
    }

    /// <summary>Creates this partition as one grown from <paramref name="source"/>, held; false if it existed so already.</summary>
    public async Task<bool> CreateAsync(QueueOptions options, int source)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (queue.Partition == 0 || source < 0 || source >= queue.Partition)
        {
            throw new BrokerException(BrokerErrorCode.InvalidName, $"'{queue.Name}' cannot be a partition grown from partition {source}.");
        }

        options.Validate(queue.Queue);
        var meta = queue.Log.Meta;
        if (meta.Created)
        {
            if (options != queue.Options || meta.GrownFrom != source)
            {
                throw new BrokerException(BrokerErrorCode.QueueExistsWithOtherOptions,
                    $"Partition '{queue.Name}' exists with other options ({QueueOptionsText.Describe(queue.Options)}, grown from {meta.GrownFrom}).");
            }

            return false;
        }

        var now = queue.Time.GetUtcNow();
        queue.Log.UpdateMeta(meta =>
        {
            meta.Created = true;
            meta.Options = options;
            meta.CreatedAt = now;
            meta.GrownFrom = source;
            meta.HeldForGrowth = true;
            meta.GrownAt = now;
        });
        await queue.Log.CommitAsync();
        return true;
    }

    /// <summary>
    /// Takes the new count, stored before this returns. A publish placed under the old count may still be committing: this waits
    /// for it, so that once the count is learned every message this partition took is in its groups (<see cref="HoldsMovedKeys"/>).
    /// </summary>
    public async Task LearnAsync(int count, Action<LogMeta>? also)
    {
        if (count <= partitions.Count && also is null)
        {
            return;
        }

        if (count % partitions.Count != 0)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Partition '{queue.Name}' has a count of {partitions.Count}; {count} is not a multiple of it.");
        }

        _learning++;
        try
        {
            var placedBefore = lastAppend();
            queue.Log.UpdateMeta(meta =>
            {
                meta.Options = meta.Options with { Partitions = count };
                also?.Invoke(meta);
            });
            await queue.Log.CommitAsync();
            await placedBefore.ContinueWith(static _ => { }, TaskScheduler.Current);
        }
        finally
        {
            _learning--;
        }
    }

    /// <summary>Whether this partition still holds, or may still take, a message whose key belongs elsewhere under <paramref name="count"/>.</summary>
    public bool HoldsMovedKeys(int count)
    {
        if (partitions.Count < count || _learning > 0 || queue.Ready.Recovering)
        {
            // Still taking keys that move under that count, or not yet sure what it holds.
            return true;
        }

        return queue.Ready.GroupKeys.Any(key => QueuePartitions.Of(key, count) != queue.Partition);
    }

    /// <summary>On the tick of a held partition: asks the source (one call at a time) and lets keyed messages go once it is free.</summary>
    public void AskSource(DateTimeOffset now)
    {
        if (!queue.HeldForGrowth || _askingSource || now < _nextSourceAsk)
        {
            return;
        }

        _askingSource = true;
        _nextSourceAsk = now + HeldPollInterval;
        _ = AskAsync();
    }

    private async Task AskAsync()
    {
        var source = queue.Log.Meta.GrownFrom;
        try
        {
            if (!await partitions.Partition(source).HoldsMovedKeys(partitions.Count) && queue.HeldForGrowth)
            {
                queue.Log.UpdateMeta(meta => meta.HeldForGrowth = false);
                await queue.Log.CommitAsync();
                LogReleased(logger, queue.Name, source);
                queue.Ready.ResumeGroups();
                released();
            }
        }
        catch (Exception exception)
        {
            LogSourceAskFailed(logger, exception, queue.Name, source);
        }
        finally
        {
            _askingSource = false;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: growing from {From} to {To} partitions")]
    private static partial void LogGrowing(ILogger logger, string queue, int from, int to);

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: grown from {From} to {To} partitions; the new ones deliver keyed messages once their source partitions have settled theirs")]
    private static partial void LogGrown(ILogger logger, string queue, int from, int to);

    [LoggerMessage(Level = LogLevel.Information, Message = "Partition {Partition}: partition {Source} holds no more messages of the keys that moved here; keyed messages go on")]
    private static partial void LogReleased(ILogger logger, string partition, int source);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Partition {Partition}: asking partition {Source} whether the keys that moved are free failed; asking again")]
    private static partial void LogSourceAskFailed(ILogger logger, Exception exception, string partition, int source);
}
