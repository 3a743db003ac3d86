using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;

namespace OrleansBroker.Server.Queues.Partitions;

/// <summary>
/// Partitions (<see cref="QueueOptions.Partitions"/>): each partition is a queue grain of its own, with its own log, leases and
/// consumers, so one logical queue spreads over silos. Partition 0 is the queue's own grain: it creates, deletes, purges and
/// reports for all of them, and routes a publish that reaches it (from a caller that does not place messages itself: a topic,
/// a redrive, an older client) to the partition of each message's key. Every other partition refuses a keyed message that is
/// not its own (<see cref="BrokerErrorCode.WrongPartition"/>), so a client with a stale partition count cannot break per-key order.
/// </summary>
/// <remarks><c>grains</c>: the cluster's grains, asked for only when another partition is called.</remarks>
internal sealed class PartitionSet(QueueState queue, Func<IGrainFactory> grains)
{
    public int Count => queue.Options.Partitions;

    /// <summary>Whether this grain speaks for other partitions.</summary>
    public bool Leads => queue.Partition == 0 && queue.Log.Meta.Created && Count > 1;

    public IQueuePartitionGrain Partition(int index) => grains().GetGrain<IQueuePartitionGrain>(QueuePartitions.NameOf(queue.Queue, index));

    public IEnumerable<TGrain> Others<TGrain>()
        where TGrain : IGrainWithStringKey =>
        Enumerable.Range(1, Count - 1).Select(i => grains().GetGrain<TGrain>(QueuePartitions.NameOf(queue.Queue, i)));

    /// <summary>Refuses queue-wide admin on a partition other than 0.</summary>
    public void RefuseAdmin(string action)
    {
        if (queue.Partition > 0)
        {
            throw new BrokerException(BrokerErrorCode.InvalidName,
                $"'{queue.Name}' is partition {queue.Partition} of queue '{queue.Queue}'; {action} '{queue.Queue}', which does it for every partition.");
        }
    }

    /// <summary>The queue's figures summed over its partitions, with each partition's share; <paramref name="own"/> is partition 0's.</summary>
    public async Task<QueueInfo> InfoAsync(PartitionSnapshot own)
    {
        var others = await Task.WhenAll(Others<IQueuePartitionGrain>().Select(p => p.GetPartitionInfo()));
        return Sum(queue.Queue, queue.Options, queue.Log.Meta.CreatedAt, [own, .. others]);
    }

    /// <summary>
    /// A partitioned queue's figures from each partition's, partition 0 first: counts and counters summed, consumers the most
    /// any partition has (each consumer registers with every partition).
    /// </summary>
    public static QueueInfo Sum(string queue, QueueOptions options, DateTimeOffset createdAt, IReadOnlyList<PartitionSnapshot> all)
    {
        var counters = all.Select(p => p.Info.Counters).Aggregate((a, b) => new QueueCounters(
            a.Published + b.Published, a.Delivered + b.Delivered, a.Redelivered + b.Redelivered, a.Acked + b.Acked,
            a.DeadLettered + b.DeadLettered, a.Purged + b.Purged, a.Expired + b.Expired, a.Dropped + b.Dropped));
        return new QueueInfo(queue, options.Redacted(), all.Sum(p => p.Info.Ready), all.Sum(p => p.Info.InFlight), all.Max(p => p.Info.Consumers), counters,
            createdAt, all.Sum(p => p.Info.Delayed), all.Sum(p => p.Info.Bytes),
            [.. all.Select(p => new QueuePartitionInfo(p.Info.Name, p.Info.Ready, p.Info.InFlight, p.Info.Consumers, p.Silo, p.Held))],
            all.Select(p => p.Info.PublishesRefused).FirstOrDefault(r => r is not null))
        { InMemory = all.All(p => p.Info.InMemory) };
    }

    /// <summary>
    /// On partition 0 of a partitioned queue, each keyed message goes to its partition (in parallel, each partition's share all
    /// or none, as a publish or a redrive like this one) and the rest stay here (<paramref name="here"/>); on any other partition,
    /// a keyed message that belongs elsewhere refuses the whole call before anything is stored.
    /// </summary>
    public async Task<IReadOnlyList<PublishReceipt>> PlaceAsync(IReadOnlyList<BrokerMessage> messages, bool deduplicate,
        Func<IReadOnlyList<BrokerMessage>, bool, Task<IReadOnlyList<PublishReceipt>>> here)
    {
        var byPartition = Split(messages);
        if (byPartition.Count == 1 && byPartition.ContainsKey(queue.Partition))
        {
            return await here(messages, deduplicate);
        }

        var calls = byPartition.Select(p =>
        {
            var share = p.Value.Select(i => messages[i]).ToList();
            var name = QueuePartitions.NameOf(queue.Queue, p.Key);
            return (Indexes: p.Value, Call: p.Key == queue.Partition ? here(share, deduplicate)
                : deduplicate ? grains().GetGrain<IQueueGrain>(name).PublishBatch(share)
                : grains().GetGrain<IDeadLetterTarget>(name).AcceptRedriven(share));
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

    /// <summary>The indexes of the messages by the partition each belongs to.</summary>
    private Dictionary<int, List<int>> Split(IReadOnlyList<BrokerMessage> messages)
    {
        var byPartition = new Dictionary<int, List<int>>();
        for (var i = 0; i < messages.Count; i++)
        {
            var key = QueuePartitions.KeyOf(messages[i]);
            var partition = key is null ? queue.Partition : QueuePartitions.Of(key, Count);
            if (partition != queue.Partition && queue.Partition != 0)
            {
                throw new BrokerException(BrokerErrorCode.WrongPartition,
                    $"Message key '{key}' belongs to partition {partition} of queue '{queue.Queue}' ({Count} partitions), not to '{queue.Name}'; nothing of this publish was stored.");
            }

            if (!byPartition.TryGetValue(partition, out var indexes))
            {
                byPartition[partition] = indexes = [];
            }

            indexes.Add(i);
        }

        return byPartition;
    }
}
