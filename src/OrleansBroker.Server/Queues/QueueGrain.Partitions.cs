using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;

namespace OrleansBroker.Server.Queues;

/// <summary>
/// Partitions (<see cref="QueueOptions.Partitions"/>): each partition is a queue grain of its own, with its own log, leases and
/// consumers, so one logical queue spreads over silos. Partition 0 is the queue's own grain: it creates, deletes, purges and
/// reports for all of them, and routes a publish that reaches it (from a caller that does not place messages itself: a topic,
/// a redrive, an older client) to the partition of each message's key. Every other partition refuses a keyed message that is
/// not its own (<see cref="BrokerErrorCode.WrongPartition"/>), so a client with a stale partition count cannot break per-key order.
/// </summary>
internal sealed partial class QueueGrain : IQueuePartitionGrain
{
    /// <summary>The logical queue: the grain name without its partition suffix. Dead letters and their source header use it.</summary>
    private string _queue = "";

    /// <summary>This grain's partition index; 0 for the queue's own grain.</summary>
    private int _partition;

    private int PartitionCount => Options.Partitions;

    /// <summary>Whether this grain speaks for other partitions.</summary>
    private bool LeadsPartitions => _partition == 0 && _log.Meta.Created && PartitionCount > 1;

    private IEnumerable<TGrain> OtherPartitions<TGrain>()
        where TGrain : IGrainWithStringKey =>
        Enumerable.Range(1, PartitionCount - 1).Select(i => GrainFactory.GetGrain<TGrain>(QueuePartitions.NameOf(_queue, i)));

    public Task<int> GetPartitions()
    {
        EnsureCreated();
        return Task.FromResult(PartitionCount);
    }

    public async Task CreatePartition(QueueOptions options)
    {
        if (_partition == 0)
        {
            throw new BrokerException(BrokerErrorCode.InvalidName, $"'{_name}' is not a partition name.");
        }

        await CreateCore(options);
    }

    public Task<PartitionSnapshot> GetPartitionInfo()
    {
        EnsureCreated();
        return Task.FromResult(new PartitionSnapshot(Info(), GrainContext.Address.SiloAddress!.ToString(), HeldForGrowth));
    }

    public Task DeletePartition() => DeleteCore();

    private void RefusePartitionAdmin(string action)
    {
        if (_partition > 0)
        {
            throw new BrokerException(BrokerErrorCode.InvalidName,
                $"'{_name}' is partition {_partition} of queue '{_queue}'; {action} '{_queue}', which does it for every partition.");
        }
    }

    /// <summary>The queue's figures summed over its partitions, with each partition's share.</summary>
    private async Task<QueueInfo> PartitionedInfoAsync()
    {
        var others = await Task.WhenAll(OtherPartitions<IQueuePartitionGrain>().Select(p => p.GetPartitionInfo()));
        var all = others.Prepend(new PartitionSnapshot(Info(), GrainContext.Address.SiloAddress!.ToString(), HeldForGrowth)).ToList();
        var counters = all.Select(p => p.Info.Counters).Aggregate((a, b) => new QueueCounters(
            a.Published + b.Published, a.Delivered + b.Delivered, a.Redelivered + b.Redelivered, a.Acked + b.Acked,
            a.DeadLettered + b.DeadLettered, a.Purged + b.Purged, a.Expired + b.Expired, a.Dropped + b.Dropped));
        return new QueueInfo(_queue, Options, all.Sum(p => p.Info.Ready), all.Sum(p => p.Info.InFlight), all.Max(p => p.Info.Consumers), counters,
            _log.Meta.CreatedAt, all.Sum(p => p.Info.Delayed), all.Sum(p => p.Info.Bytes),
            [.. all.Select(p => new QueuePartitionInfo(p.Info.Name, p.Info.Ready, p.Info.InFlight, p.Info.Consumers, p.Silo, p.Held))],
            all.Select(p => p.Info.PublishesRefused).FirstOrDefault(r => r is not null));
    }

    /// <summary>
    /// Stores a publish (deduplicated) or a redrive (not) that reached this grain: here when the queue has one partition,
    /// otherwise through <see cref="PlaceAsync"/>.
    /// </summary>
    private Task<IReadOnlyList<PublishReceipt>> StoreAsync(IReadOnlyList<BrokerMessage> messages, bool deduplicate) =>
        PartitionCount == 1 ? AppendAsync(messages, deduplicate) : PlaceAsync(messages, deduplicate);

    /// <summary>
    /// On partition 0 of a partitioned queue, each keyed message goes to its partition (in parallel, each partition's share all
    /// or none, as a publish or a redrive like this one) and the rest stay here; on any other partition, a keyed message that
    /// belongs elsewhere refuses the whole call before anything is stored.
    /// </summary>
    private async Task<IReadOnlyList<PublishReceipt>> PlaceAsync(IReadOnlyList<BrokerMessage> messages, bool deduplicate)
    {
        var byPartition = new Dictionary<int, List<int>>();
        for (var i = 0; i < messages.Count; i++)
        {
            var key = QueuePartitions.KeyOf(messages[i]);
            var partition = key is null ? _partition : QueuePartitions.Of(key, PartitionCount);
            if (partition != _partition && _partition != 0)
            {
                throw new BrokerException(BrokerErrorCode.WrongPartition,
                    $"Message key '{key}' belongs to partition {partition} of queue '{_queue}' ({PartitionCount} partitions), not to '{_name}'; nothing of this publish was stored.");
            }

            if (!byPartition.TryGetValue(partition, out var indexes))
            {
                byPartition[partition] = indexes = [];
            }

            indexes.Add(i);
        }

        if (byPartition.Count == 1 && byPartition.ContainsKey(_partition))
        {
            return await AppendAsync(messages, deduplicate);
        }

        var calls = byPartition.Select(p =>
        {
            var share = p.Value.Select(i => messages[i]).ToList();
            var name = QueuePartitions.NameOf(_queue, p.Key);
            return (Indexes: p.Value, Call: p.Key == _partition ? AppendAsync(share, deduplicate)
                : deduplicate ? GrainFactory.GetGrain<IQueueGrain>(name).PublishBatch(share)
                : GrainFactory.GetGrain<IDeadLetterTarget>(name).AcceptRedriven(share));
        }).ToList();
        await Task.WhenAll(calls.Select(c => c.Call));
        var receipts = new PublishReceipt[messages.Count];
        foreach (var (indexes, call) in calls)
        {
            for (var i = 0; i < indexes.Count; i++)
            {
                receipts[indexes[i]] = call.Result[i];
            }
        }

        return receipts;
    }
}
