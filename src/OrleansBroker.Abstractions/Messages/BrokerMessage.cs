namespace OrleansBroker.Messages;

/// <summary>
/// A message as a producer hands it to the broker. The broker stamps the enqueue time and the
/// sequence number; everything else is the producer's. Only <paramref name="Body"/> is required.
/// </summary>
/// <param name="Id">
/// Producer-chosen id (at most <see cref="BrokerLimits.MaxMessageIdLength"/> characters), or
/// <see langword="null"/> to let the broker generate one. It travels with every delivery and
/// into the dead-letter queue. A publish repeating an id within the queue's
/// <see cref="Queues.QueueOptions.DeduplicationWindow"/> is accepted once and returns the first receipt.
/// </param>
/// <param name="Body">Opaque body bytes; at most the silo's <c>MaxMessageBytes</c> (default 1 MiB).</param>
/// <param name="ContentType">MIME type of the body, for example <c>application/json</c>; optional.</param>
/// <param name="Headers">Application headers (string to string), subject to <see cref="BrokerLimits"/>.</param>
/// <param name="RoutingKey">Routing key used by topics; carried unchanged through queues.</param>
/// <param name="DeliverAt">Not delivered before this time (scheduled delivery); at most <see cref="BrokerLimits.MaxScheduleDelay"/> ahead. A time in the past means now.</param>
/// <param name="Delay">Not delivered before this long after it is stored, by the broker's clock; 0 to <see cref="BrokerLimits.MaxScheduleDelay"/>. Not together with <paramref name="DeliverAt"/>.</param>
/// <param name="TimeToLive">
/// Dropped (or dead-lettered, per <see cref="Queues.QueueOptions.DeadLetterExpired"/>) if not settled this long after it
/// becomes deliverable; never delivered after that. Default the queue's <see cref="Queues.QueueOptions.DefaultTimeToLive"/>;
/// at most <see cref="BrokerLimits.MaxTimeToLive"/>.
/// </param>
/// <param name="Priority">0 (default, lowest) to <see cref="BrokerLimits.MaxPriority"/>: higher is delivered first, FIFO within a level.</param>
/// <param name="OrderingKey">
/// Message group: messages with the same key are delivered one at a time in publish order, the next only once the
/// previous is settled; other keys go on in parallel. At most <see cref="BrokerLimits.MaxOrderingKeyLength"/> characters.
/// </param>
[GenerateSerializer, Immutable, Alias("ob.msg")]
public sealed record BrokerMessage(
    [property: Id(0)] string? Id,
    [property: Id(1)] byte[] Body,
    [property: Id(2)] string? ContentType = null,
    [property: Id(3)] IReadOnlyDictionary<string, string>? Headers = null,
    [property: Id(4)] string? RoutingKey = null,
    [property: Id(5)] DateTimeOffset? DeliverAt = null,
    [property: Id(6)] TimeSpan? Delay = null,
    [property: Id(7)] TimeSpan? TimeToLive = null,
    [property: Id(8)] int Priority = 0,
    [property: Id(9)] string? OrderingKey = null);
