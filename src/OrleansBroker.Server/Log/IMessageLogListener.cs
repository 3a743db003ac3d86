namespace OrleansBroker.Server.Log;

/// <summary>What the owner of a <see cref="MessageLog"/> (its queue grain) hears from it, on the grain's scheduler.</summary>
internal interface IMessageLogListener
{
    /// <summary>A commit is durable: these new messages can be delivered, in sequence order.</summary>
    void OnCommitted(IReadOnlyList<LogEntry> entries);

    /// <summary>Recovery read more of the log after activation: these older live messages are back, in sequence order.</summary>
    void OnRecovered(IReadOnlyList<LogEntry> entries);

    /// <summary>Bodies that <see cref="MessageLog.TryGetMessage"/> did not have are now in memory.</summary>
    void OnPagedIn();

    /// <summary>
    /// A write found the log changed by another writer (a storage ETag conflict: an older activation of the queue on a
    /// silo that was dying, or a second activation). This activation's view is stale; it must stop and load again.
    /// </summary>
    void OnLogTakenOver();

    /// <summary>
    /// How many of a commit's new messages, from the first, the queue will hand out as soon as they land. Their first
    /// attempt is stored with them (<see cref="MessageLog.RecordAttempt"/> then has nothing to store), so their delivery
    /// does not wait for a commit of its own.
    /// </summary>
    int DeliverableOnLanding(IReadOnlyList<StoredMessage> messages) => 0;

    /// <summary>A commit was written in <paramref name="duration"/>, storing <paramref name="appends"/> new messages.</summary>
    void OnWritten(TimeSpan duration, int appends)
    {
    }
}
