namespace OrleansBroker.Cli.Bench;

/// <summary>What every scenario shares: where, how much, and how producers and consumers behave.</summary>
internal sealed record BenchSettings
{
    public required string Queue { get; init; }

    public required long Messages { get; init; }

    public required int Size { get; init; }

    public int Producers { get; init; } = 1;

    public int Consumers { get; init; } = 1;

    /// <summary>Messages per publish call.</summary>
    public int Batch { get; init; } = 100;

    /// <summary>Publish calls per producer awaiting confirmation at once.</summary>
    public int Inflight { get; init; } = 4;

    public int Prefetch { get; init; } = 500;

    /// <summary>A run with no progress for this long stops and reports what it lost.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    public int? BrokerPid { get; init; }

    /// <summary>Partitions of the bench queue when the bench creates it (an existing queue keeps its own).</summary>
    public int Partitions { get; init; } = 1;

    /// <summary>
    /// Whether a failed publish is tried again, with the same message ids, until it is confirmed: what a producer does through a
    /// silo failure. Off by default, so a broker error ends a throughput run instead of hiding in it.
    /// </summary>
    public bool RetryPublishes { get; init; }

    /// <summary>Whether queue consumers use the handler API (one handler at a time, acked on return) rather than reading and acking without waiting.</summary>
    public bool Handler { get; init; }

    /// <summary>Messages each producer sends; the first ones take the remainder.</summary>
    public long[] PerProducer() =>
        Enumerable.Range(0, Producers).Select(p => Messages / Producers + (p < Messages % Producers ? 1 : 0)).ToArray();
}
