namespace OrleansBroker.Server.Log;

/// <summary>
/// What changed in a log since its last commit started: the next <see cref="CommitPlan"/> takes it. Also which landed
/// messages had their first attempt stored with them, so that the delivery it was stored for changes nothing.
/// </summary>
internal sealed class PendingChanges
{
    /// <summary>Landed messages whose first attempt was stored with them and has not been handed out yet.</summary>
    private readonly HashSet<long> _countedAhead = [];

    public List<PendingAppend> Appends { get; } = [];

    /// <summary>Segments whose settle record changed (settles, attempts, retry times).</summary>
    public HashSet<long> DirtySegments { get; } = [];

    /// <summary>Segment ids a failed commit may have written: deleted by the next commit, before its metadata lands.</summary>
    public HashSet<long> AbandonedSegments { get; } = [];

    public bool MetaDirty { get; set; }

    public bool Any => Appends.Count > 0 || DirtySegments.Count > 0 || MetaDirty || AbandonedSegments.Count > 0;

    /// <summary>
    /// Counts a delivery attempt of <paramref name="entry"/> in its segment's settle record; false, changing nothing, for
    /// the attempt a message's commit stored with it (<see cref="CountedAhead"/>).
    /// </summary>
    public bool RecordAttempt(LogEntry entry)
    {
        if (_countedAhead.Remove(entry.Sequence))
        {
            return false;
        }

        entry.Attempts++;
        StoreAttempts(entry);
        return true;
    }

    /// <summary>These landed messages' first attempts were stored with them.</summary>
    public void CountedAhead(IEnumerable<LogEntry> entries)
    {
        foreach (var entry in entries)
        {
            _countedAhead.Add(entry.Sequence);
        }
    }

    /// <summary>The message is settled: no delivery of it will use an attempt stored ahead.</summary>
    public void Settled(long sequence) => _countedAhead.Remove(sequence);

    /// <summary>The log's messages are deleted.</summary>
    public void Deleted() => _countedAhead.Clear();

    /// <summary>Takes back an attempt whose delivery never went out.</summary>
    public void UndoAttempt(LogEntry entry)
    {
        _countedAhead.Remove(entry.Sequence);
        entry.Attempts--;
        if (entry.Attempts > 0)
        {
            StoreAttempts(entry);
        }
        else if (entry.Segment.State.State.Attempts.Remove(entry.Sequence))
        {
            DirtySegments.Add(entry.Segment.Id);
        }
    }

    /// <summary>Sets (or with 0 clears) the time before which <paramref name="entry"/> is not delivered.</summary>
    public void SetNotBefore(LogEntry entry, long utcTicks)
    {
        entry.NotBefore = utcTicks;
        var stored = entry.Segment.State.State.NotBefore;
        if (utcTicks == 0)
        {
            if (!stored.Remove(entry.Sequence))
            {
                return;
            }
        }
        else
        {
            stored[entry.Sequence] = utcTicks;
        }

        DirtySegments.Add(entry.Segment.Id);
    }

    private void StoreAttempts(LogEntry entry)
    {
        entry.Segment.State.State.Attempts[entry.Sequence] = entry.Attempts;
        DirtySegments.Add(entry.Segment.Id);
    }

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
