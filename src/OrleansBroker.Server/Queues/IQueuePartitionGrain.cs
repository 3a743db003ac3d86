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

    /// <summary>Deletes this partition and its messages, as part of deleting the queue.</summary>
    [Alias("delete-partition")]
    Task DeletePartition();
}

/// <summary>One partition's <see cref="QueueInfo"/> and the silo hosting it.</summary>
[GenerateSerializer, Immutable, Alias("ob.partition-snapshot")]
internal sealed record PartitionSnapshot([property: Id(0)] QueueInfo Info, [property: Id(1)] string Silo);
