namespace OrleansBroker.Server.Log;

/// <summary>
/// A live (durable, unsettled) message of the log: where it is and its delivery attempts so far.
/// Small on purpose (no body): a deep queue keeps one per message in memory, while the bodies of
/// messages far from delivery stay in storage (<see cref="MessageLog.TryGetMessage"/>).
/// </summary>
internal sealed class LogEntry(Segment segment, int index, long sequence, int attempts)
{
    public Segment Segment { get; } = segment;

    /// <summary>Position in <see cref="Segment"/>'s messages.</summary>
    public int Index { get; } = index;

    public long Sequence { get; } = sequence;

    public int Attempts { get; set; } = attempts;

    /// <summary>UTC ticks before which it is not delivered (retry backoff or schedule) while it waits for that time, otherwise 0.</summary>
    public long NotBefore { get; set; }

    public byte Priority => Segment.PriorityAt(Index);

    /// <summary>UTC ticks it expires at, or 0 for never.</summary>
    public long ExpiresAt => Segment.ExpiresAt(Index);

    public string? OrderingKey => Segment.OrderingKeyAt(Index);

    public int BodyBytes => Segment.BodyBytesAt(Index);
}
