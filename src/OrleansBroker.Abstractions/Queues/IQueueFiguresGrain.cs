namespace OrleansBroker.Queues;

/// <summary>
/// The figures of many queues at once, for lists and overviews: a queue in memory is asked, one that is not is read from
/// storage and left where it is, so listing a hundred thousand mostly idle queues does not load them all. Any key; each silo
/// answers with workers of its own.
/// </summary>
[Alias("ob.IQueueFiguresGrain")]
public interface IQueueFiguresGrain : IGrainWithIntegerKey
{
    /// <summary>
    /// The figures of each queue of <paramref name="queues"/> that exists, in the order given (one that does not exist, or
    /// was deleted meanwhile, is left out). A queue not in memory is answered from its stored figures,
    /// <see cref="QueueInfo.InMemory"/> false.
    /// </summary>
    [Alias("infos")]
    Task<IReadOnlyList<QueueInfo>> GetInfos(IReadOnlyList<string> queues);
}
