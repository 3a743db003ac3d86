namespace OrleansBroker.Server.Topics.Replay;

/// <summary>A point in the retained queue: a publish that began at <paramref name="Ticks"/> stored its first message after <paramref name="Sequence"/>.</summary>
[GenerateSerializer, Immutable, Alias("ob.retained-mark")]
internal sealed record RetainedMark(
    [property: Id(0)] long Ticks,
    [property: Id(1)] long Sequence);
