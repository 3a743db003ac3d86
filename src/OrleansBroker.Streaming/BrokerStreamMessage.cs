namespace OrleansBroker.Streaming;

/// <summary>
/// What a stream consumer receives for a topic message that was not published through an Orleans stream (by the
/// CLI, HTTP or <see cref="Client.IBrokerClient"/>). Events published through an Orleans stream of the provider
/// arrive as the objects the producer passed to <c>OnNextAsync</c> instead.
/// <para>
/// Stream id: the namespace is the topic; the key is the <see cref="StreamKeyHeader"/> header when present (Orleans
/// producers set it to their stream's key), else the message's ordering key, else its routing key, else the topic name.
/// </para>
/// </summary>
/// <param name="Topic">The topic it was published to.</param>
/// <param name="MessageId">The broker message id.</param>
/// <param name="Body">The body bytes.</param>
/// <param name="ContentType">The producer's content type, if any.</param>
/// <param name="Headers">The producer's headers.</param>
/// <param name="RoutingKey">The producer's routing key, if any.</param>
/// <param name="EnqueuedAt">When the broker stored it.</param>
/// <param name="Attempt">1 for the first delivery to the stream's consumers, 2 after a consumer failed once, and so on.</param>
[GenerateSerializer, Immutable, Alias("ob.stream-message")]
public sealed record BrokerStreamMessage(
    [property: Id(0)] string Topic,
    [property: Id(1)] string MessageId,
    [property: Id(2)] byte[] Body,
    [property: Id(3)] string? ContentType,
    [property: Id(4)] IReadOnlyDictionary<string, string>? Headers,
    [property: Id(5)] string? RoutingKey,
    [property: Id(6)] DateTimeOffset EnqueuedAt,
    [property: Id(7)] int Attempt)
{
    /// <summary>The header that names the stream key of a message: <c>orleans-stream-key</c>.</summary>
    public const string StreamKeyHeader = "orleans-stream-key";

    /// <summary>The content type of messages an Orleans producer published (events serialized by Orleans): <c>application/x-orleans-stream</c>.</summary>
    public const string OrleansContentType = "application/x-orleans-stream";

    /// <summary>The body as UTF-8 text.</summary>
    public string BodyText() => System.Text.Encoding.UTF8.GetString(Body);
}
