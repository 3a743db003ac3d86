using Microsoft.Extensions.Logging;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;

namespace OrleansBroker.Server.Queues;

/// <summary>
/// Growing a partitioned queue in place (<see cref="IQueueGrain.GrowPartitions"/>) without losing or reordering keyed messages.
/// The new count M is a multiple of the old count N, so a key's partition under M, taken mod N, is its partition under N: each
/// key either stays or moves from partition <c>j mod N</c> to a new partition j. Partition 0 runs the growth:
/// <list type="number">
/// <item>it records the target (<see cref="Log.LogMeta.GrowingTo"/>), so a growth cut short is finished and not mixed with another;</item>
/// <item>it creates the new partitions, each held (<see cref="Log.LogMeta.HeldForGrowth"/>): it takes publishes and delivers
/// messages without an ordering key, but keyed messages wait;</item>
/// <item>the old partitions learn M and from then on refuse moved keys (<see cref="BrokerErrorCode.WrongPartition"/>: the client
/// asks for the count again and sends them to their new partition); partition 0 learns it last and tells its consumers to
/// register again, which registers them with the new partitions;</item>
/// <item>each held partition asks its source, every <see cref="HeldPollInterval"/>, whether it still holds a message of a key that
/// moved (<see cref="HoldsMovedKeys"/>); once it does not, every older message of the held keys is settled, and the new
/// partition lets its keyed messages go, in order.</item>
/// </list>
/// Deduplication follows too: for the dedup window after it was added, a new partition also looks up at its source the ids it
/// does not know, so a publish retried across the growth is stored once.
/// </summary>
internal sealed partial class QueueGrain
{
    /// <summary>How often a held partition asks its source whether the keys it took over are free.</summary>
    private static readonly TimeSpan HeldPollInterval = TimeSpan.FromSeconds(1);

    /// <summary>The last append handed to the log: appends complete in order, so awaiting it waits for every earlier one.</summary>
    private Task _lastAppend = Task.CompletedTask;

    /// <summary>Learning a new count: appends placed under the old one may still be on their way into the groups.</summary>
    private int _learning;

    private bool _askingSource;
    private DateTimeOffset _nextSourceAsk;

    private bool HeldForGrowth => _log.Meta.Created && _log.Meta.HeldForGrowth;

    private IQueuePartitionGrain GrowthSource => GrainFactory.GetGrain<IQueuePartitionGrain>(QueuePartitions.NameOf(_queue, _log.Meta.GrownFrom));

    public async Task<QueueInfo> GrowPartitions(int partitions)
    {
        EnsureCreated();
        RefusePartitionAdmin("grow");
        var from = PartitionCount;
        var growingTo = _log.Meta.GrowingTo;
        if (growingTo != 0 && growingTo != partitions)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Queue '{_queue}' is growing to {growingTo} partitions; grow it to {growingTo} again to finish that first.");
        }

        if (partitions == from && growingTo == 0)
        {
            return await GetInfo();
        }

        if (partitions <= from || partitions % from != 0 || partitions > QueueOptions.MaxPartitions)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Queue '{_queue}' has {from} partitions; it can grow to a multiple of that up to {QueueOptions.MaxPartitions} " +
                $"({string.Join(", ", Enumerable.Range(2, QueueOptions.MaxPartitions / from - 1).Select(k => k * from))}), not to {partitions}.");
        }

        var grown = Options with { Partitions = partitions };
        grown.Validate(_queue);
        if (growingTo == 0)
        {
            _log.UpdateMeta(meta => meta.GrowingTo = partitions);
            await _log.CommitAsync();
            LogGrowing(_queue, from, partitions);
        }

        // Created held before any partition learns the count, so nothing reaches a new partition before it holds.
        await Task.WhenAll(Enumerable.Range(from, partitions - from)
            .Select(j => GrainFactory.GetGrain<IQueuePartitionGrain>(QueuePartitions.NameOf(_queue, j)).CreateGrownPartition(grown, j % from)));
        await Task.WhenAll(Enumerable.Range(1, from - 1)
            .Select(i => GrainFactory.GetGrain<IQueuePartitionGrain>(QueuePartitions.NameOf(_queue, i)).LearnPartitions(partitions)));
        await LearnAsync(partitions, meta => meta.GrowingTo = 0);
        LogGrown(_queue, from, partitions);
        foreach (var consumer in _consumers.All)
        {
            _ = consumer.Observer.Moving();
        }

        return await PartitionedInfoAsync();
    }

    public async Task CreateGrownPartition(QueueOptions options, int source)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (_partition == 0 || source < 0 || source >= _partition)
        {
            throw new BrokerException(BrokerErrorCode.InvalidName, $"'{_name}' cannot be a partition grown from partition {source}.");
        }

        options.Validate(_queue);
        if (_log.Meta.Created)
        {
            if (options != Options || _log.Meta.GrownFrom != source)
            {
                throw new BrokerException(BrokerErrorCode.QueueExistsWithOtherOptions,
                    $"Partition '{_name}' exists with other options ({Describe(Options)}, grown from {_log.Meta.GrownFrom}).");
            }

            return;
        }

        var now = _time.GetUtcNow();
        _log.UpdateMeta(meta =>
        {
            meta.Created = true;
            meta.Options = options;
            meta.CreatedAt = now;
            meta.GrownFrom = source;
            meta.HeldForGrowth = true;
            meta.GrownAt = now;
        });
        await _log.CommitAsync();
        LogCreated(_name, $"{Describe(options)}; grown from partition {source}, keyed messages held until it has settled theirs");
    }

    public Task LearnPartitions(int partitions)
    {
        EnsureCreated();
        return LearnAsync(partitions, null);
    }

    /// <summary>
    /// Takes the new count, stored before this returns. A publish placed under the old count may still be committing: this waits
    /// for it, so that once the count is learned every message this partition took is in its groups (<see cref="HoldsMovedKeys"/>).
    /// </summary>
    private async Task LearnAsync(int partitions, Action<Log.LogMeta>? also)
    {
        if (partitions <= PartitionCount && also is null)
        {
            return;
        }

        if (partitions % PartitionCount != 0)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Partition '{_name}' has a count of {PartitionCount}; {partitions} is not a multiple of it.");
        }

        _learning++;
        try
        {
            var placedBefore = _lastAppend;
            _log.UpdateMeta(meta =>
            {
                meta.Options = meta.Options with { Partitions = partitions };
                also?.Invoke(meta);
            });
            await _log.CommitAsync();
            await placedBefore.ContinueWith(static _ => { }, TaskScheduler.Current);
        }
        finally
        {
            _learning--;
        }
    }

    public Task<bool> HoldsMovedKeys(int partitions)
    {
        EnsureCreated();
        if (PartitionCount < partitions || _learning > 0 || _ready.Recovering)
        {
            // Still taking keys that move under that count, or not yet sure what it holds.
            return Task.FromResult(true);
        }

        foreach (var key in _ready.GroupKeys)
        {
            if (QueuePartitions.Of(key, partitions) != _partition)
            {
                return Task.FromResult(true);
            }
        }

        return Task.FromResult(false);
    }

    /// <summary>On the tick of a held partition: asks the source (one call at a time) and lets keyed messages go once it is free.</summary>
    private void AskGrowthSource(DateTimeOffset now)
    {
        if (!HeldForGrowth || _askingSource || now < _nextSourceAsk)
        {
            return;
        }

        _askingSource = true;
        _nextSourceAsk = now + HeldPollInterval;
        _ = AskAsync();

        async Task AskAsync()
        {
            try
            {
                if (!await GrowthSource.HoldsMovedKeys(PartitionCount) && HeldForGrowth)
                {
                    _log.UpdateMeta(meta => meta.HeldForGrowth = false);
                    await _log.CommitAsync();
                    LogReleased(_name, _log.Meta.GrownFrom);
                    _ready.ResumeGroups();
                    Dispatch();
                }
            }
            catch (Exception exception)
            {
                LogSourceAskFailed(exception, _name, _log.Meta.GrownFrom);
            }
            finally
            {
                _askingSource = false;
            }
        }
    }

    public async Task<IReadOnlyList<PublishReceipt>> FindPublished(IReadOnlyList<string> ids)
    {
        EnsureCreated();
        ArgumentNullException.ThrowIfNull(ids);
        var now = _time.GetUtcNow();
        var since = (now - Options.DeduplicationWindow).UtcTicks;
        var found = new List<PublishReceipt>();
        var missing = new List<string>();
        foreach (var id in ids)
        {
            if (_dedup.TryFind(id, since, out var mark))
            {
                if (mark.Pending is { } pending)
                {
                    try
                    {
                        await pending;
                    }
                    catch (BrokerException)
                    {
                        // The first publish was not stored: the id is free.
                        missing.Add(id);
                        continue;
                    }
                }

                found.Add(new PublishReceipt(id, mark.Sequence));
            }
            else
            {
                missing.Add(id);
            }
        }

        if (missing.Count > 0 && InGrowthDedupWindow())
        {
            found.AddRange(await GrowthSource.FindPublished(missing));
        }

        return found;
    }

    /// <summary>Whether ids this partition does not know may have been accepted by its source before the growth.</summary>
    /// <remarks>On the publish path: the clock is read only on a partition added by growth.</remarks>
    private bool InGrowthDedupWindow() =>
        _log.Meta.GrownFrom >= 0 && Options.DeduplicationWindow > TimeSpan.Zero && _time.GetUtcNow() - _log.Meta.GrownAt < Options.DeduplicationWindow;

    /// <summary>The receipts the source partition holds for the ids of <paramref name="messages"/>; null when none.</summary>
    private async Task<Dictionary<string, PublishReceipt>?> FindAtGrowthSourceAsync(IReadOnlyList<BrokerMessage> messages)
    {
        var ids = messages.Where(m => m.Id is not null).Select(m => m.Id!).Distinct(StringComparer.Ordinal).ToList();
        if (ids.Count == 0)
        {
            return null;
        }

        var found = await GrowthSource.FindPublished(ids);
        return found.Count == 0 ? null : found.ToDictionary(r => r.MessageId, StringComparer.Ordinal);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: growing from {From} to {To} partitions")]
    private partial void LogGrowing(string queue, int from, int to);

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: grown from {From} to {To} partitions; the new ones deliver keyed messages once their source partitions have settled theirs")]
    private partial void LogGrown(string queue, int from, int to);

    [LoggerMessage(Level = LogLevel.Information, Message = "Partition {Partition}: partition {Source} holds no more messages of the keys that moved here; keyed messages go on")]
    private partial void LogReleased(string partition, int source);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Partition {Partition}: asking partition {Source} whether the keys that moved are free failed; asking again")]
    private partial void LogSourceAskFailed(Exception exception, string partition, int source);
}
