using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Topics.Routing;

namespace OrleansBroker.Server.Topics.Replay;

/// <summary>What a <see cref="TopicReplay"/> reads and writes through: its topic grain, or a test.</summary>
internal interface IReplayIo
{
    /// <summary>Retained messages after <paramref name="after"/>, oldest first.</summary>
    Task<IReadOnlyList<PeekedMessage>> PeekRetainedAsync(long after, int max);

    /// <summary>Stores replayed messages in the subscription's queue (through its deduplication or not).</summary>
    Task StoreAsync(Route route, IReadOnlyList<BrokerMessage> messages, bool deduplicate);

    /// <summary>Stores the messages the subscription's transform failed on in its dead-letter queue.</summary>
    Task DeadLetterAsync(Route route, IReadOnlyList<BrokerMessage> messages);

    /// <summary>Stores how far the replay got (or, with <paramref name="done"/>, that it is over); false if another replay replaced it.</summary>
    Task<bool> SaveAsync(ReplayCursor cursor, bool done);
}
