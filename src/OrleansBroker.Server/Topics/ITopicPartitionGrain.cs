using OrleansBroker.Topics;

namespace OrleansBroker.Server.Topics;

/// <summary>What partition 0 of a partitioned topic (the topic's own grain) asks of its other partitions.</summary>
[Alias("ob.ITopicPartitionGrain")]
internal interface ITopicPartitionGrain : IGrainWithStringKey
{
    /// <summary>Creates this partition or brings it up to date: the topic's options and its whole subscription set, stored before this returns.</summary>
    [Alias("sync-partition")]
    Task SyncPartition(TopicOptions options, IReadOnlyList<Subscription> subscriptions, DateTimeOffset createdAt);

    /// <summary>This partition's own counters (and the subscriptions it routes to).</summary>
    [Alias("partition-info")]
    Task<TopicInfo> GetPartitionInfo();

    /// <summary>Forgets this partition, as part of deleting the topic (partition 0 deletes the subscription queues).</summary>
    [Alias("delete-partition")]
    Task DeletePartition();
}
