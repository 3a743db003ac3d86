using Microsoft.Extensions.Logging;

namespace OrleansBroker.Server.Log;

/// <summary>
/// Reads a log back after activation: first the records a failed commit left past the metadata are deleted (their
/// sequence numbers never handed out again), then the first segments are read before the queue serves anything and
/// the rest in the background, a chunk per turn, handed over through <see cref="IMessageLogListener.OnRecovered"/>.
/// A read that fails is retried with backoff: the unread rest of the log is invisible meanwhile, not lost.
/// </summary>
internal sealed partial class LogRecovery(LogRecordStore store, SegmentIndex index, IMessageLogListener listener, ILogger logger)
{
    /// <summary>Segments read at once, and before the queue serves anything.</summary>
    public const int Parallelism = 16;

    private static readonly TimeSpan FirstRetryDelay = TimeSpan.FromMilliseconds(100);
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(5);
    private bool _stopped;

    /// <summary>The settle state the metadata carries, by segment: newer than the segment's own record.</summary>
    private Dictionary<long, CarriedSettles> _carried = [];

    /// <summary>
    /// Deletes what failed commits left past <paramref name="meta"/>, reads the first segments and returns their live
    /// messages in sequence order, with the ids of the segments left to read (<see cref="ReadRestAsync"/>).
    /// </summary>
    public async Task<(List<LogEntry> Live, List<long> Unread)> ReadFirstAsync(StoredRecord<LogMeta> meta)
    {
        _carried = meta.State.CarriedSettles.ToDictionary(c => c.Segment);
        await DeleteUncommittedSegmentsAsync(meta);
        // Only the live segments where they are known; otherwise every id that may be one.
        var ids = meta.State.LiveSegments is { } ranges
            ? SegmentRanges.Ids(ranges, meta.State.FirstSegment, meta.State.NextSegment).ToList()
            : [.. LongRange(meta.State.FirstSegment, meta.State.NextSegment)];

        var live = await ReadSegmentsAsync(ids.Take(Parallelism).ToList());
        LogLoaded(store.GrainId, live.Count, index.Count, Math.Max(0, ids.Count - Parallelism));
        return (live, ids.Skip(Parallelism).ToList());
    }

    /// <summary>Reads the segments <see cref="ReadFirstAsync"/> left, yielding to the grain between chunks; false if stopped first.</summary>
    public async Task<bool> ReadRestAsync(List<long> ids)
    {
        var recovered = 0;
        var retryDelay = FirstRetryDelay;
        foreach (var chunk in ids.Chunk(Parallelism))
        {
            // A storage that answers synchronously (SQLite) would otherwise read the whole log in one turn:
            // yield to the grain's queue between chunks, so deliveries and other calls go on meanwhile.
            await Task.Yield();
            while (!_stopped)
            {
                try
                {
                    var entries = await ReadSegmentsAsync(chunk);
                    recovered += entries.Count;
                    if (!_stopped)
                    {
                        listener.OnRecovered(entries);
                    }

                    break;
                }
                catch (Exception exception)
                {
                    LogRecoveryReadFailed(exception, store.GrainId, chunk[0], retryDelay);
                    await Task.Delay(retryDelay);
                    retryDelay = TimeSpan.FromTicks(Math.Min(retryDelay.Ticks * 2, MaxRetryDelay.Ticks));
                }
            }
        }

        if (!_stopped)
        {
            LogRecovered(store.GrainId, recovered, index.TrackedCount, index.ResidentCount);
        }

        return !_stopped;
    }

    /// <summary>Stops a recovery still running (the grain is deactivating).</summary>
    public void Stop() => _stopped = true;

    /// <summary>
    /// Every segment is read, so the live messages are known exactly: the stored counts are set from them, plus what a
    /// commit being written adds; the live segment ranges are made where the log has none. The metadata carries the
    /// settles it counts (<see cref="SettleCarry"/>), so the counts agree after a crash; they are checked all the same, and
    /// a log written before the counts were kept, or before settles were carried, gets them here. True if a count
    /// changed (stored with the next commit).
    /// </summary>
    public bool CorrectCounts(LogMeta meta, int committingCount, long committingBytes, long? committingSegment)
    {
        var live = index.TrackedCount + (long)committingCount;
        var bytes = index.TrackedBytes + committingBytes;
        var changed = false;
        if (meta.LiveSegments is null)
        {
            // Every segment is known now: the ranges are kept from here on (with the one a commit under way writes).
            var ids = index.Segments.Select(s => s.Id);
            var ranges = SegmentRanges.Of(committingSegment is { } id ? ids.Append(id) : ids);
            meta.LiveSegments = SegmentRanges.Fits(ranges) ? ranges : null;
            changed = meta.LiveSegments is not null;
        }

        if (!meta.LiveCounted || meta.Live != live)
        {
            if (meta.LiveCounted)
            {
                LogCountCorrected(store.GrainId, meta.Live, live);
            }

            meta.Live = live;
            meta.LiveCounted = true;
            changed = true;
        }

        if (!meta.BytesCounted || meta.LiveBytes != bytes)
        {
            meta.LiveBytes = bytes;
            meta.BytesCounted = true;
            changed = true;
        }

        return changed;
    }

    private static IEnumerable<long> LongRange(long first, long next)
    {
        for (var id = first; id < next; id++)
        {
            yield return id;
        }
    }

    /// <summary>Reads segments (absent ids are skipped), registers them and returns their live messages in sequence order.</summary>
    private async Task<List<LogEntry>> ReadSegmentsAsync(IReadOnlyList<long> ids)
    {
        var live = new List<LogEntry>();
        foreach (var chunk in ids.Chunk(Parallelism))
        {
            var loaded = await Task.WhenAll(chunk.Select(ReadSegmentAsync));
            foreach (var segment in loaded.OfType<Segment>())
            {
                index.Register(segment, live);
            }

            index.TrimResident();
        }

        return live;
    }

    private async Task<Segment?> ReadSegmentAsync(long id)
    {
        _carried.TryGetValue(id, out var carried);
        if (carried is { State: null })
        {
            // Every message settled: the first commit deletes what is left of it.
            return null;
        }

        var record = await store.ReadAsync<SegmentRecord>(LogRecordStore.SegmentName(id));
        if (!record.RecordExists)
        {
            return null;
        }

        var state = await store.ReadAsync<SegmentStateRecord>(LogRecordStore.SettlesName(id));
        if (carried?.State is { } newer)
        {
            // The metadata's copy is the one its counts agree with; the record may be a commit behind.
            state.State = newer.Copy();
        }

        var segment = new Segment(id, record, state);
        segment.LoadSettled(state.State.Settled);
        return segment;
    }

    /// <summary>
    /// A segment at or past NextSegment was written by a commit whose metadata never landed: its publishers were
    /// told it failed, so it is not part of the log and is deleted. So is the segment the metadata's own commit wrote
    /// where it did not land with it (or a later failed commit wrote another under its id): that commit failed too, and
    /// its messages leave the counts. Their sequence numbers are not handed out again: the metadata is moved past them
    /// first, so a crash during the clean-up cannot bring them back.
    /// </summary>
    private async Task DeleteUncommittedSegmentsAsync(StoredRecord<LogMeta> meta)
    {
        var uncommitted = new List<(long Id, StoredRecord<SegmentRecord> Record)>();
        var changed = false;
        if (meta.State.Written is { } written)
        {
            var record = await store.ReadAsync<SegmentRecord>(LogRecordStore.SegmentName(written.Id));
            if (!record.RecordExists || record.State.Messages.Count == 0 || record.State.Messages[0].Sequence != written.FirstSequence)
            {
                Uncount(meta.State, written);
                changed = true;
                LogWrittenSegmentMissing(store.GrainId, written.Id, written.Count);
                if (record.RecordExists)
                {
                    uncommitted.Add((written.Id, record));
                }
            }
        }

        for (var id = meta.State.NextSegment; ; id++)
        {
            var record = await store.ReadAsync<SegmentRecord>(LogRecordStore.SegmentName(id));
            if (!record.RecordExists)
            {
                break;
            }

            uncommitted.Add((id, record));
        }

        var highest = uncommitted.SelectMany(r => r.Record.State.Messages).Select(m => m.Sequence).DefaultIfEmpty(0).Max();
        if (highest >= meta.State.NextSequence)
        {
            meta.State.NextSequence = highest + 1;
            changed = true;
        }

        if (changed)
        {
            await store.WriteAsync(LogRecordStore.MetaName, meta);
        }

        foreach (var (id, record) in uncommitted)
        {
            await store.ClearAsync(LogRecordStore.SegmentName(id), record);
            LogDeletedUncommitted(store.GrainId, id);
        }
    }

    /// <summary>Takes a segment that never landed out of the metadata's counts and live ranges.</summary>
    private static void Uncount(LogMeta meta, WrittenSegment written)
    {
        meta.Written = null;
        meta.Counters = meta.Counters with { Published = meta.Counters.Published - written.Count };
        if (meta.LiveCounted)
        {
            meta.Live -= written.Count;
        }

        if (meta.BytesCounted)
        {
            meta.LiveBytes -= written.Bytes;
        }

        if (meta.LiveSegments is { } ranges)
        {
            SegmentRanges.Remove(ranges, written.Id);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Log of {GrainId} loaded: {Live} live messages in the first {Segments} segments; {Pending} segment ids left to recover in the background")]
    private partial void LogLoaded(GrainId grainId, int live, int segments, int pending);

    [LoggerMessage(Level = LogLevel.Information, Message = "Log of {GrainId} recovered: {Recovered} more live messages read in the background, {Live} live in all, {Resident} segments in memory")]
    private partial void LogRecovered(GrainId grainId, int recovered, int live, int resident);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Log of {GrainId}: the stored count of live messages was {Stored}, the segments hold {Live}; corrected (a log written by an earlier version)")]
    private partial void LogCountCorrected(GrainId grainId, long stored, long live);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Log of {GrainId}: reading segments from {Segment} on failed; retrying in {Delay}")]
    private partial void LogRecoveryReadFailed(Exception exception, GrainId grainId, long segment, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Log of {GrainId}: segment {Segment} ({Count} messages), written by the last commit, did not land with its metadata; that commit failed and its messages are not counted")]
    private partial void LogWrittenSegmentMissing(GrainId grainId, long segment, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Log of {GrainId}: deleted uncommitted segment {Segment}")]
    private partial void LogDeletedUncommitted(GrainId grainId, long segment);
}
