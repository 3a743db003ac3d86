namespace OrleansBroker.Queues;

/// <summary>
/// Which dead letters to send back to the queues they came from (the <c>x-broker-source-queue</c> header).
/// Only ready messages move (not those a consumer of the dead-letter queue holds), oldest first.
/// </summary>
/// <param name="Max">Move at most this many; null for all.</param>
/// <param name="MessageIds">Move only messages with these ids; null for any.</param>
[GenerateSerializer, Immutable, Alias("ob.redrive")]
public sealed record RedriveRequest(
    [property: Id(0)] int? Max = null,
    [property: Id(1)] IReadOnlyList<string>? MessageIds = null);

/// <summary>What a redrive did.</summary>
/// <param name="Moved">Messages now in their source queues (and gone from the dead-letter queue).</param>
/// <param name="Skipped">Selected messages left where they are because they carry no source queue (published to the dead-letter queue directly).</param>
[GenerateSerializer, Immutable, Alias("ob.redrive-result")]
public sealed record RedriveResult(
    [property: Id(0)] long Moved,
    [property: Id(1)] long Skipped);
