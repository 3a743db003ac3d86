using OrleansBroker.Messages;
using OrleansBroker.Queues;

namespace OrleansBroker.Server.Queues;

/// <summary>What partition 0 of a partitioned queue (the queue's own grain) asks of its other partitions.</summary>
[Alias("ob.IQueuePartitionGrain")]
internal interface IQueuePartitionGrain : IGrainWithStringKey
{
    /// <summary>Creates this partition with the queue's options, or confirms it exists with them.</summary>
    [Alias("create-partition")]
    Task CreatePartition(QueueOptions options);

    /// <summary>This partition's own figures and the silo it is on.</summary>
    [Alias("partition-info")]
    Task<PartitionSnapshot> GetPartitionInfo();

    /// <summary>
    /// Creates this partition as one added by growth, taking the keys that move to it from partition <paramref name="source"/>:
    /// it holds keyed messages until <paramref name="source"/> holds none of its keys. Confirms a partition that exists so.
    /// </summary>
    [Alias("create-grown-partition")]
    Task CreateGrownPartition(QueueOptions options, int source);

    /// <summary>The queue grew to <paramref name="partitions"/>: from now on this partition refuses keys that moved away.</summary>
    [Alias("learn-partitions")]
    Task LearnPartitions(int partitions);

    /// <summary>
    /// Whether this partition still holds (or may still take) a message whose ordering key belongs elsewhere with
    /// <paramref name="partitions"/> partitions; a grown partition waits for false before it delivers keyed messages.
    /// </summary>
    [Alias("holds-moved-keys")]
    Task<bool> HoldsMovedKeys(int partitions);

    /// <summary>
    /// Receipts of the ids this partition (or, within its own growth's dedup window, the partition it grew from) accepted within
    /// the dedup window: a grown partition asks its source, so a publish retried across growth is not stored twice.
    /// </summary>
    [Alias("find-published")]
    Task<IReadOnlyList<PublishReceipt>> FindPublished(IReadOnlyList<string> ids);

    /// <summary>Deletes this partition and its messages, as part of deleting the queue.</summary>
    [Alias("delete-partition")]
    Task DeletePartition();

    /// <summary>Replaces the push endpoint of this queue (and, on partition 0, of every partition): for the queue's own SetPush and for its topic.</summary>
    [Alias("change-push")]
    Task<QueueInfo> ChangePush(PushEndpoint? push);
}

/// <summary>One partition's <see cref="QueueInfo"/>, the silo hosting it, and whether it holds keyed messages after a growth.</summary>
[GenerateSerializer, Immutable, Alias("ob.partition-snapshot")]
internal sealed record PartitionSnapshot([property: Id(0)] QueueInfo Info, [property: Id(1)] string Silo, [property: Id(2)] bool Held);
