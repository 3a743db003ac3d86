namespace OrleansBroker.Server.Log;

/// <summary>What changed in a log since its last commit started: the next <see cref="CommitPlan"/> takes it.</summary>
internal sealed class PendingChanges
{
    public List<PendingAppend> Appends { get; } = [];

    /// <summary>Segments whose settle record changed (settles, attempts, retry times).</summary>
    public HashSet<long> DirtySegments { get; } = [];

    /// <summary>Segment ids a failed commit may have written: deleted by the next commit, before its metadata lands.</summary>
    public HashSet<long> AbandonedSegments { get; } = [];

    public bool MetaDirty { get; set; }

    public bool Any => Appends.Count > 0 || DirtySegments.Count > 0 || MetaDirty || AbandonedSegments.Count > 0;

    /// <summary>The appends that go into one segment, oldest first: always one, then more while the segment has room.</summary>
    public List<PendingAppend> TakeAppends(MessageLogOptions options)
    {
        var taken = new List<PendingAppend>();
        var bytes = 0;
        var count = 0;
        foreach (var append in Appends)
        {
            if (taken.Count > 0 && (bytes >= options.SegmentMaxBytes || count >= options.SegmentMaxMessages))
            {
                break;
            }

            taken.Add(append);
            count += append.Messages.Count;
            foreach (var message in append.Messages)
            {
                bytes += message.ApproximateSize;
            }
        }

        Appends.RemoveRange(0, taken.Count);
        return taken;
    }
}
