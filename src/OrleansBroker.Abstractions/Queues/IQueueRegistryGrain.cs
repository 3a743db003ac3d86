namespace OrleansBroker.Queues;

/// <summary>
/// A durable list of names in the cluster: queues under key <see cref="Queues"/>, topics under key
/// <see cref="Topics"/>. Queues and topics add and remove themselves.
/// </summary>
[Alias("ob.IQueueRegistryGrain")]
public interface IQueueRegistryGrain : IGrainWithIntegerKey
{
    /// <summary>Key of the registry of queues.</summary>
    const long Queues = 0;

    /// <summary>Key of the registry of topics.</summary>
    const long Topics = 1;

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
