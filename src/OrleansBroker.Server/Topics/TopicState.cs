using OrleansBroker.Server.Topics.Replay;
using OrleansBroker.Topics;

namespace OrleansBroker.Server.Topics;

/// <summary>Persisted state of <see cref="TopicGrain"/>: small, its size independent of traffic.</summary>
[GenerateSerializer, Alias("ob.topic-state")]
internal sealed class TopicState
{
    [Id(0)] public bool Created { get; set; }

    [Id(1)] public DateTimeOffset CreatedAt { get; set; }

    [Id(2)] public Dictionary<string, Subscription> Subscriptions { get; set; } = new(StringComparer.Ordinal);

    [Id(3)] public long Published { get; set; }

    [Id(4)] public long Unrouted { get; set; }

    [Id(5)] public TopicOptions Options { get; set; } = new();

    /// <summary>Replays under way, by subscription: each goes on from its cursor after a restart or move.</summary>
    [Id(6)] public Dictionary<string, ReplayCursor> Replays { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Where in the retained queue a time begins (<see cref="RetainedMarks"/>), oldest first.</summary>
    [Id(7)] public List<RetainedMark> RetainedMarks { get; set; } = [];
}
