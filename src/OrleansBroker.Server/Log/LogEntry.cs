namespace OrleansBroker.Server.Log;

/// <summary>
/// A live (durable, unsettled) message of the log: where it is, and through its segment its delivery attempts so far
/// and the time it waits for. A view, made when asked for (<see cref="SegmentIndex.TryGetEntry"/>): the state lives in
/// the segment's compact per-message arrays, so a deep queue costs a few bytes per message and no object, and two views
/// of one message are equal and see the same state. Its body may be in storage (<see cref="MessageLog.TryGetMessage"/>).
/// </summary>
internal sealed record LogEntry(Segment Segment, int Index)
{
    public long Sequence => Segment.SequenceAt(Index);

    public int Attempts
    {
        get => Segment.AttemptsAt(Index);
        set => Segment.SetAttempts(Index, value);
    }

    /// <summary>UTC ticks before which it is not delivered (retry backoff or schedule) while it waits for that time, otherwise 0.</summary>
    public long NotBefore
    {
        get => Segment.NotBeforeAt(Index);
        set => Segment.SetNotBefore(Index, value);
    }

    public byte Priority => Segment.PriorityAt(Index);

    /// <summary>UTC ticks it expires at, or 0 for never.</summary>
    public long ExpiresAt => Segment.ExpiresAt(Index);

    public string? OrderingKey => Segment.OrderingKeyAt(Index);

    public int BodyBytes => Segment.BodyBytesAt(Index);
}
