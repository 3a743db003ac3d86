namespace OrleansBroker.Server.Log;

/// <summary>
/// One group commit of a log, in three steps: <see cref="Take"/> builds it from the changes waiting (and moves the
/// metadata in memory to what it will be), <see cref="WriteAsync"/> writes its records, then the log either
/// <see cref="Apply">applies</see> it (the new segment joins the index, cleared segments leave it, waiters are released)
/// or <see cref="RollBack">rolls it back</see> (the metadata and the changes are as if it had not been taken, except
/// that ids it may have written are never handed out again).
/// The metadata record is the commit point: what it does not name is not part of the log, and it carries the settle
/// state the commit changed, whose own records a later commit writes (<see cref="SettleCarry"/>). It is written by every
/// commit, also one that holds only settles or attempt counts, because its conditional write is what fences the log: an
/// activation whose log was taken over by another (a silo declared dead that still runs) fails its next commit, so it
/// can confirm nothing more, instead of writing settle records under the new owner.
/// </summary>
internal sealed class CommitPlan
{
    private readonly List<PendingAppend> _appends;
    private readonly List<long> _dirty;
    private readonly List<Segment> _cleared = [];
    private readonly List<long> _abandoned;
    private readonly DedupChange _dedup;
    private readonly Segment? _written;
    private readonly long _writtenBytes;
    private List<CarriedSettles> _settlesWritten = [];
    private List<CarriedSettles> _settlesCarried = [];

    /// <summary>The metadata as this commit stores it, copied when it was taken.</summary>
    private LogMeta _stored = null!;

    private CommitPlan(List<PendingAppend> appends, TaskCompletionSource waiters, List<long> dirty, List<long> abandoned, DedupChange dedup, Segment? written, long writtenBytes)
    {
        _appends = appends;
        Waiters = waiters;
        _dirty = dirty;
        _abandoned = abandoned;
        _dedup = dedup;
        _written = written;
        _writtenBytes = writtenBytes;
    }

    /// <summary>Released when this commit is durable (or failed): it holds every change made before it was taken.</summary>
    public TaskCompletionSource Waiters { get; }

    /// <summary>New messages this commit writes: counted live in the metadata already, in the index once it has landed.</summary>
    public int WrittenCount => _written?.Count ?? 0;

    /// <summary>Body bytes of <see cref="WrittenCount"/>.</summary>
    public long WrittenBytes => _writtenBytes;

    /// <summary>How many of the new messages, from the first, have their first attempt counted in this commit.</summary>
    public int CountedAhead { get; private set; }

    /// <summary>The id of the segment this commit writes, if it writes one.</summary>
    public long? WrittenSegment => _written?.Id;

    /// <summary>Number of appends and of changed segments, for the log line of a failed commit.</summary>
    public (int Appends, int Segments) Size => (_appends.Count, _dirty.Count);

    /// <summary>
    /// Builds the next commit from <paramref name="changes"/>; the metadata in memory becomes what this commit stores.
    /// <paramref name="recovering"/> says whether recovery is still reading the log (the first live segment is not known then).
    /// <paramref name="deliverableOnLanding"/> says how many of the new messages the queue hands out as soon as they land:
    /// their first attempt is stored with them, carried by the metadata like any other change of settle state.
    /// </summary>
    public static CommitPlan Take(PendingChanges changes, TaskCompletionSource waiters, SegmentIndex index, DedupRecords dedup, SettleCarry settles, LogMeta meta, MessageLogOptions options, bool recovering,
        Func<IReadOnlyList<StoredMessage>, int> deliverableOnLanding)
    {
        var appends = changes.TakeAppends(options);
        var dirty = changes.DirtySegments.ToList();
        changes.DirtySegments.Clear();
        var abandoned = changes.AbandonedSegments.ToList();
        changes.AbandonedSegments.Clear();
        changes.MetaDirty = false;

        var messages = new List<StoredMessage>();
        var marks = new List<DedupMark>();
        long bytes = 0;
        foreach (var append in appends)
        {
            messages.AddRange(append.Messages);
            marks.AddRange(append.Marks ?? []);
            foreach (var message in append.Messages)
            {
                bytes += message.Body.Length;
            }
        }

        var written = messages.Count == 0 ? null : new Segment(
            meta.NextSegment++,
            new StoredRecord<SegmentRecord> { State = new SegmentRecord { Messages = messages } },
            new StoredRecord<SegmentStateRecord>());
        var plan = new CommitPlan(appends, waiters, dirty, abandoned, dedup.TakeChange(meta, marks), written, bytes);
        var changed = new List<CarriedSettles>(dirty.Count + 1);
        if (written is not null && Math.Min(deliverableOnLanding(messages), written.Count) is > 0 and var ahead)
        {
            written.CountFirstAttempts(ahead);
            plan.CountedAhead = ahead;
            changed.Add(new CarriedSettles(written.Id, written.SnapshotSettles()));
        }

        foreach (var id in dirty)
        {
            if (!index.TryGetSegment(id, out var segment))
            {
                continue;
            }

            if (segment.LiveCount == 0)
            {
                plan._cleared.Add(segment);
                changed.Add(new CarriedSettles(id, null));
            }
            else
            {
                changed.Add(new CarriedSettles(id, segment.SnapshotSettles()));
            }
        }

        (plan._settlesWritten, plan._settlesCarried) = settles.Take(changed, index, meta, recovering);
        meta.Written = written is null ? null : new WrittenSegment(written.Id, written.FirstSequence, written.Count, bytes);

        // While recovery reads the log, the index lacks the segments it has not reached: the first live one may be among
        // them, so the range recovery starts from stays where it is until then.
        if (!recovering)
        {
            meta.FirstSegment = index.FirstIdWithout(plan._cleared, written?.Id ?? meta.NextSegment);
        }

        plan.Count(meta, +1);
        plan.TrackRanges(meta, taken: true);
        // Settles and counts that come in while the records are written belong to the next commit: the metadata this one
        // writes is the one taken now, whose counts agree with the settle state it carries.
        plan._stored = meta.Copy();
        return plan;
    }

    /// <summary>
    /// Deletes what failed commits may have left, then writes the commit's records, the metadata last where a record must
    /// land before it (see <see cref="DedupChange.BeforeMeta"/>).
    /// </summary>
    public async Task WriteAsync(LogRecordStore store, StoredRecord<LogMeta> meta, SegmentIndex index, SettleCarry settles)
    {
        // First what failed commits may have left: the new records may take the same ids.
        var leftovers = _abandoned.Select(id => store.ClearIfPresentAsync<SegmentRecord>(LogRecordStore.SegmentName(id)))
            .Concat(_dedup.Abandoned.Select(id => store.ClearIfPresentAsync<DedupRecord>(LogRecordStore.DedupName(id))))
            .ToList();
        if (leftovers.Count > 0)
        {
            await Task.WhenAll(leftovers);
        }

        var writes = new List<Task>();
        if (_written is not null)
        {
            writes.Add(store.WriteAsync(LogRecordStore.SegmentName(_written.Id), _written.Record));
        }

        foreach (var carried in _settlesWritten)
        {
            writes.Add(settles.WriteAsync(store, index, carried));
        }

        if (_dedup.Written is { } dedupRecord)
        {
            writes.Add(store.WriteAsync(LogRecordStore.DedupName(_dedup.WrittenId), dedupRecord));
        }

        if (_dedup.BeforeMeta)
        {
            await Task.WhenAll(writes);
            writes.Clear();
        }

        writes.Add(WriteMetaAsync(store, meta));
        await Task.WhenAll(writes);
    }

    /// <summary>Writes the metadata as taken under the record's ETag, then keeps the new ETag.</summary>
    private async Task WriteMetaAsync(LogRecordStore store, StoredRecord<LogMeta> meta)
    {
        var record = new StoredRecord<LogMeta> { State = _stored, ETag = meta.ETag, RecordExists = meta.RecordExists };
        await store.WriteAsync(LogRecordStore.MetaName, record);
        meta.ETag = record.ETag;
        meta.RecordExists = true;
    }

    /// <summary>The commit is durable: the index, the deduplication and settle records take it; returns the new live messages.</summary>
    public List<LogEntry> Apply(SegmentIndex index, DedupRecords dedup, SettleCarry settles)
    {
        foreach (var segment in _cleared)
        {
            index.Forget(segment);
        }

        settles.Landed(_settlesWritten, _settlesCarried, _cleared);

        dedup.Committed(_dedup);
        var entries = new List<LogEntry>(WrittenCount);
        if (_written is not null)
        {
            index.Register(_written, entries);
        }

        return entries;
    }

    /// <summary>Releases the publishers and the waiters of a commit that landed.</summary>
    public void Complete()
    {
        foreach (var append in _appends)
        {
            append.Completion.TrySetResult();
        }

        Waiters.TrySetResult();
    }

    /// <summary>
    /// The commit failed: its publishers and waiters get <paramref name="error"/>, the metadata in memory goes back
    /// (but for the ids handed out), and its settles wait for the next commit. The segment and deduplication record it
    /// may have written are deleted by the next commit before its metadata; so are the abandoned records it did not get to.
    /// </summary>
    public void RollBack(PendingChanges changes, SegmentIndex index, DedupRecords dedup, LogMeta meta, Exception error)
    {
        Count(meta, -1);
        TrackRanges(meta, taken: false);
        if (_written is not null)
        {
            // The next commit deletes what of it may have landed and takes the same id: no gap in the ids, so recovery
            // finds every record a failed commit left past the metadata (and the sequence numbers in it).
            changes.AbandonedSegments.Add(_written.Id);
            meta.NextSegment = _written.Id;
        }

        changes.AbandonedSegments.UnionWith(_abandoned);
        dedup.RolledBack(_dedup, meta);
        foreach (var id in _dirty)
        {
            if (index.TryGetSegment(id, out _))
            {
                changes.DirtySegments.Add(id);
            }
        }

        changes.MetaDirty = true;
        foreach (var append in _appends)
        {
            append.Completion.TrySetException(error);
        }

        Waiters.TrySetException(error);
    }

    /// <summary>
    /// Keeps the live segment ranges: the written segment joins them and the cleared ones leave (or, rolled back, the
    /// reverse). Grown past their limit, they are given up (recovery then tries every id).
    /// </summary>
    private void TrackRanges(LogMeta meta, bool taken)
    {
        if (meta.LiveSegments is not { } ranges)
        {
            return;
        }

        foreach (var segment in _cleared)
        {
            if (taken)
            {
                SegmentRanges.Remove(ranges, segment.Id);
            }
            else
            {
                SegmentRanges.Add(ranges, segment.Id);
            }
        }

        if (_written is not null && taken)
        {
            SegmentRanges.Add(ranges, _written.Id);
        }
        else if (_written is not null)
        {
            SegmentRanges.Remove(ranges, _written.Id);
        }

        if (!SegmentRanges.Fits(ranges))
        {
            meta.LiveSegments = null;
        }
    }

    /// <summary>Adds (or with -1 takes back) the new messages in the metadata's counts.</summary>
    private void Count(LogMeta meta, int sign)
    {
        if (_written is null)
        {
            return;
        }

        meta.Counters = meta.Counters with { Published = meta.Counters.Published + (sign * _written.Count) };
        if (meta.LiveCounted)
        {
            meta.Live += sign * _written.Count;
        }

        if (meta.BytesCounted)
        {
            meta.LiveBytes += sign * _writtenBytes;
        }
    }
}
