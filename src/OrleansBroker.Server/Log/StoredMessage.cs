namespace OrleansBroker.Server.Log;

/// <summary>
/// A message as the log stores it: the producer's message stamped with sequence and enqueue time, its
/// schedule and time to live resolved to absolute UTC ticks (0 for none).
/// </summary>
[GenerateSerializer, Immutable, Alias("ob.stored")]
internal sealed record StoredMessage(
    [property: Id(0)] long Sequence,
    [property: Id(1)] string MessageId,
    [property: Id(2)] byte[] Body,
    [property: Id(3)] string? ContentType,
    [property: Id(4)] IReadOnlyDictionary<string, string>? Headers,
    [property: Id(5)] string? RoutingKey,
    [property: Id(6)] DateTimeOffset EnqueuedAt,
    [property: Id(7)] long NotBefore = 0,
    [property: Id(8)] long ExpiresAt = 0,
    [property: Id(9)] byte Priority = 0,
    [property: Id(10)] string? OrderingKey = null)
{
    /// <summary>Bytes this message costs in a segment, roughly: body plus headers and fixed fields.</summary>
    public int ApproximateSize
    {
        get
        {
            var size = Body.Length + MessageId.Length + 64 + (ContentType?.Length ?? 0) + (RoutingKey?.Length ?? 0) + (OrderingKey?.Length ?? 0);
            if (Headers is not null)
            {
                foreach (var (key, value) in Headers)
                {
                    size += key.Length + value.Length + 8;
                }
            }

            return size;
        }
    }
}
