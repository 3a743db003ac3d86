using OrleansBroker.Messages;
using OrleansBroker.Queues;

namespace OrleansBroker.Server.Queues;

/// <summary>
/// The broker-internal way into a queue: dead letters (broker headers, which producers may not set;
/// the queue is created with dead-letter defaults on first use) and redriven messages.
/// </summary>
[Alias("ob.IDeadLetterTarget")]
internal interface IDeadLetterTarget : IGrainWithStringKey
{
    [Alias("accept")]
    Task AcceptDeadLetters(IReadOnlyList<BrokerMessage> messages);

    /// <summary>Messages redriven from a dead-letter queue back to this one: stored without deduplication (their ids were seen before).</summary>
    [Alias("redriven")]
    Task<IReadOnlyList<PublishReceipt>> AcceptRedriven(IReadOnlyList<BrokerMessage> messages);

    /// <summary>Creates a topic subscription's queue (<c>topic/subscription</c>), which clients cannot create directly.</summary>
    [Alias("create-subscription")]
    Task<QueueInfo> CreateSubscriptionQueue(QueueOptions options);
}
