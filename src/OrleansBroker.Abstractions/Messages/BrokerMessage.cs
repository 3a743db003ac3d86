namespace OrleansBroker.Messages;

/// <summary>
/// A message as a producer hands it to the broker. The broker stamps the enqueue time and the
/// sequence number; everything else is the producer's.
/// </summary>
/// <param name="Id">
/// Producer-chosen id (at most <see cref="BrokerLimits.MaxMessageIdLength"/> characters), or
/// <see langword="null"/> to let the broker generate one. It travels with every delivery and
/// into the dead-letter queue.
/// </param>
/// <param name="Body">Opaque body bytes; at most the silo's <c>MaxMessageBytes</c> (default 1 MiB).</param>
/// <param name="ContentType">MIME type of the body, for example <c>application/json</c>; optional.</param>
/// <param name="Headers">Application headers (string to string), subject to <see cref="BrokerLimits"/>.</param>
/// <param name="RoutingKey">Routing key used by topics; carried unchanged through queues.</param>
[GenerateSerializer, Immutable, Alias("ob.msg")]
public sealed record BrokerMessage(
    [property: Id(0)] string? Id,
    [property: Id(1)] byte[] Body,
    [property: Id(2)] string? ContentType = null,
    [property: Id(3)] IReadOnlyDictionary<string, string>? Headers = null,
    [property: Id(4)] string? RoutingKey = null);
