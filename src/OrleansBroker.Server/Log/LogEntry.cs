namespace OrleansBroker.Server.Log;

/// <summary>A live (durable, unsettled) message of the log, with its delivery attempts so far.</summary>
internal sealed class LogEntry(StoredMessage message, long segment, int attempts)
{
    public StoredMessage Message { get; } = message;

    public long Segment { get; } = segment;

    public int Attempts { get; set; } = attempts;
}
