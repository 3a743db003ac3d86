using OrleansBroker.Messages;

namespace OrleansBroker.Server.Queues;

/// <summary>
/// The broker-internal way into a dead-letter queue: it accepts broker headers (which producers
/// may not set) and creates the queue with dead-letter defaults on first use.
/// </summary>
[Alias("ob.IDeadLetterTarget")]
internal interface IDeadLetterTarget : IGrainWithStringKey
{
    [Alias("accept")]
    Task AcceptDeadLetters(IReadOnlyList<BrokerMessage> messages);
}
