namespace OrleansBroker.Queues;

/// <summary>The durable list of queue names in the cluster (one grain, key 0). Queues add and remove themselves.</summary>
[Alias("ob.IQueueRegistryGrain")]
public interface IQueueRegistryGrain : IGrainWithIntegerKey
{
    /// <summary>Records a queue; idempotent.</summary>
    [Alias("add")]
    Task Add(string queue);

    /// <summary>Forgets a queue; idempotent.</summary>
    [Alias("remove")]
    Task Remove(string queue);

    /// <summary>All queue names, sorted ordinally.</summary>
    [Alias("list")]
    Task<IReadOnlyList<string>> List();
}
