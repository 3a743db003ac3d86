namespace OrleansBroker.Queues;

/// <summary>Where a browsed message is in its queue. Values never change.</summary>
public enum MessageState
{
    /// <summary>Waiting for a consumer.</summary>
    Ready = 0,

    /// <summary>Delivered and leased; not settled yet.</summary>
    InFlight = 1,

    /// <summary>Waiting for its retry or scheduled time (<see cref="PeekedMessage.NotBefore"/>).</summary>
    Delayed = 2,

    /// <summary>On its way out: being dead-lettered or redriven.</summary>
    Leaving = 3,
}

/// <summary>A message as <c>Peek</c> shows it, without delivering or changing it.</summary>
/// <param name="Sequence">Its sequence in the queue; pass the last one seen to peek further.</param>
/// <param name="MessageId">The producer's (or broker-generated) id.</param>
/// <param name="Body">Body bytes.</param>
/// <param name="ContentType">MIME type, if given.</param>
/// <param name="Headers">Headers, with the broker's <c>x-broker-*</c> ones on a dead letter.</param>
/// <param name="RoutingKey">Routing key, if given.</param>
/// <param name="EnqueuedAt">When this queue stored it.</param>
/// <param name="Attempts">Deliveries so far.</param>
/// <param name="State">Ready, in flight, delayed or leaving.</param>
/// <param name="NotBefore">With <see cref="MessageState.Delayed"/>: when it is ready again.</param>
/// <param name="ExpiresAt">When its time to live ends, if it has one.</param>
/// <param name="Priority">Its priority, 0 to 9.</param>
/// <param name="OrderingKey">Its message group, if any.</param>
/// <param name="LeaseExpiresAt">With <see cref="MessageState.InFlight"/>: when its lease ends unless the consumer extends it.</param>
[GenerateSerializer, Immutable, Alias("ob.peeked")]
public sealed record PeekedMessage(
    [property: Id(0)] long Sequence,
    [property: Id(1)] string MessageId,
    [property: Id(2)] byte[] Body,
    [property: Id(3)] string? ContentType,
    [property: Id(4)] IReadOnlyDictionary<string, string>? Headers,
    [property: Id(5)] string? RoutingKey,
    [property: Id(6)] DateTimeOffset EnqueuedAt,
    [property: Id(7)] int Attempts,
    [property: Id(8)] MessageState State,
    [property: Id(9)] DateTimeOffset? NotBefore,
    [property: Id(10)] DateTimeOffset? ExpiresAt = null,
    [property: Id(11)] int Priority = 0,
    [property: Id(12)] string? OrderingKey = null,
    [property: Id(13)] DateTimeOffset? LeaseExpiresAt = null);
