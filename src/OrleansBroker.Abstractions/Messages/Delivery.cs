namespace OrleansBroker.Messages;

/// <summary>
/// One message leased to one consumer. Settle it (ack, nack) or extend it before
/// <see cref="LeaseExpiresAt"/>, or it is delivered again, to this or another consumer.
/// </summary>
/// <param name="Queue">The queue it came from.</param>
/// <param name="MessageId">The message id.</param>
/// <param name="Sequence">The queue's sequence number for the message.</param>
/// <param name="Body">The body bytes.</param>
/// <param name="ContentType">The content type the producer gave, if any.</param>
/// <param name="Headers">Headers the producer gave, plus broker headers where the broker added them.</param>
/// <param name="RoutingKey">The routing key the producer gave, if any.</param>
/// <param name="EnqueuedAt">When the broker stored it.</param>
/// <param name="Attempt">1 for the first delivery, 2 for the first redelivery, and so on.</param>
/// <param name="LeaseToken">Identifies this delivery; a settle with an older token fails with LeaseLost.</param>
/// <param name="LeaseExpiresAt">When the lease ends unless extended.</param>
/// <param name="Priority">The priority the producer gave (0 to 9).</param>
/// <param name="OrderingKey">The message group the producer gave, if any: the next message of the group waits until this one is settled.</param>
[GenerateSerializer, Immutable, Alias("ob.delivery")]
public sealed record Delivery(
    [property: Id(0)] string Queue,
    [property: Id(1)] string MessageId,
    [property: Id(2)] long Sequence,
    [property: Id(3)] byte[] Body,
    [property: Id(4)] string? ContentType,
    [property: Id(5)] IReadOnlyDictionary<string, string>? Headers,
    [property: Id(6)] string? RoutingKey,
    [property: Id(7)] DateTimeOffset EnqueuedAt,
    [property: Id(8)] int Attempt,
    [property: Id(9)] long LeaseToken,
    [property: Id(10)] DateTimeOffset LeaseExpiresAt,
    [property: Id(11)] int Priority = 0,
    [property: Id(12)] string? OrderingKey = null);
