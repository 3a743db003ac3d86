namespace OrleansBroker.Server.Log;

/// <summary>Messages waiting for a commit, with the producer-set ids to deduplicate on; completes once they are durable.</summary>
internal sealed class PendingAppend(IReadOnlyList<StoredMessage> messages, IReadOnlyList<DedupMark>? marks)
{
    public IReadOnlyList<StoredMessage> Messages { get; } = messages;

    public IReadOnlyList<DedupMark>? Marks { get; } = marks;

    public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}
