namespace OrleansBroker.Server.Log;

/// <summary>What one commit does to the deduplication records.</summary>
internal sealed record DedupChange(
    IReadOnlyList<long> Abandoned,
    IReadOnlyList<(long Id, StoredRecord<DedupRecord> Record)> Pruned,
    long WrittenId,
    StoredRecord<DedupRecord>? Written)
{
    /// <summary>
    /// Whether the commit writes its other records before its metadata: a deduplication record whose commit failed must
    /// not be read back, or a retried publish of a message never stored would count as a repeat.
    /// </summary>
    public bool BeforeMeta => Written is not null;
}
