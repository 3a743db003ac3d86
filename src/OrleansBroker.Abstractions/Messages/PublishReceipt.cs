namespace OrleansBroker.Messages;

/// <summary>
/// Returned once a published message is durably stored: the broker will deliver it at least once.
/// </summary>
/// <param name="MessageId">The producer's id, or the one the broker generated.</param>
/// <param name="Sequence">The queue's sequence number for the message, strictly increasing per queue.</param>
[GenerateSerializer, Immutable, Alias("ob.receipt")]
public sealed record PublishReceipt(
    [property: Id(0)] string MessageId,
    [property: Id(1)] long Sequence);
