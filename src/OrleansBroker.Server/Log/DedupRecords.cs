using Microsoft.Extensions.Logging;

namespace OrleansBroker.Server.Log;

/// <summary>
/// The log's deduplication records: each commit holding producer-set ids writes them as one <c>d{id}</c>
/// record, numbered apart from the segments because they outlive them (a message acked a minute ago is still
/// a duplicate when published again). Recovery reads the records in [<see cref="LogMeta.FirstDedup"/>,
/// <see cref="LogMeta.NextDedup"/>); <see cref="Prune"/> drops those past the window. The id lookup itself is
/// the queue's (<see cref="RecoveredMarks"/>).
/// </summary>
internal sealed partial class DedupRecords(LogRecordStore store, ILogger logger)
{
    private const int LoadParallelism = 16;
    private readonly Queue<(long Id, long NewestTicks, StoredRecord<DedupRecord> Record)> _records = new();
    private readonly List<(long Id, StoredRecord<DedupRecord> Record)> _pruned = [];
    private readonly HashSet<long> _abandoned = [];

    /// <summary>The marks read by <see cref="LoadAsync"/>, oldest first; the queue takes them once.</summary>
    public List<DedupMark> RecoveredMarks { get; private set; } = [];

    /// <summary>Number of deduplication records live in storage.</summary>
    public int Count => _records.Count;

    /// <summary>Whether a record of a failed commit waits to be deleted.</summary>
    public bool HasAbandoned => _abandoned.Count > 0;

    public async Task LoadAsync(LogMeta meta)
    {
        // A record at or past NextDedup belongs to a commit whose metadata never landed.
        for (var id = meta.NextDedup; ; id++)
        {
            var stray = await store.ReadAsync<DedupRecord>(LogRecordStore.DedupName(id));
            if (!stray.RecordExists)
            {
                break;
            }

            await store.ClearAsync(LogRecordStore.DedupName(id), stray);
        }

        var marks = new List<DedupMark>();
        for (var first = meta.FirstDedup; first < meta.NextDedup; first += LoadParallelism)
        {
            var ids = Enumerable.Range(0, (int)Math.Min(LoadParallelism, meta.NextDedup - first)).Select(i => first + i);
            var records = await Task.WhenAll(ids.Select(async id => (Id: id, Record: await store.ReadAsync<DedupRecord>(LogRecordStore.DedupName(id)))));
            foreach (var (id, record) in records)
            {
                // Absent: a commit that failed after its metadata landed (its messages were refused, so were their ids).
                if (record.RecordExists && record.State.Marks.Count > 0)
                {
                    _records.Enqueue((id, record.State.Marks.Max(m => m.AcceptedTicks), record));
                    marks.AddRange(record.State.Marks);
                }
            }
        }

        RecoveredMarks = marks;
    }

    /// <summary>
    /// Lets go of the records whose newest id was accepted before <paramref name="olderThanTicks"/>: they are deleted
    /// after the next commit, which moves <see cref="LogMeta.FirstDedup"/> past them. True if any was.
    /// </summary>
    public bool Prune(LogMeta meta, long olderThanTicks)
    {
        var pruned = false;
        while (_records.TryPeek(out var head) && head.NewestTicks < olderThanTicks)
        {
            _records.Dequeue();
            _pruned.Add((head.Id, head.Record));
            pruned = true;
        }

        if (pruned)
        {
            meta.FirstDedup = _records.TryPeek(out var first) ? first.Id : meta.NextDedup;
        }

        return pruned;
    }

    /// <summary>The deduplication part of a commit: a new record for <paramref name="marks"/>, the abandoned and pruned records to delete.</summary>
    public DedupChange TakeChange(LogMeta meta, List<DedupMark> marks)
    {
        var change = new DedupChange(
            [.. _abandoned],
            [.. _pruned],
            marks.Count > 0 ? meta.NextDedup++ : -1,
            marks.Count > 0 ? new StoredRecord<DedupRecord> { State = new DedupRecord { Marks = marks } } : null);
        _abandoned.Clear();
        _pruned.Clear();
        return change;
    }

    /// <summary>After the commit: its record joins the live ones; the records it moved FirstDedup past are deleted (not awaited).</summary>
    public void Committed(DedupChange change)
    {
        if (change.Written is { } record)
        {
            _records.Enqueue((change.WrittenId, record.State.Marks.Max(m => m.AcceptedTicks), record));
        }

        foreach (var (id, old) in change.Pruned)
        {
            _ = DeletePrunedAsync(id, old);
        }
    }

    /// <summary>
    /// The commit failed: what of its record may have landed is deleted by the next commit before it writes one under the
    /// same id; so are the abandoned records it did not get to delete; the pruned ones wait for the next commit.
    /// </summary>
    public void RolledBack(DedupChange change, LogMeta meta)
    {
        if (change.Written is not null)
        {
            _abandoned.Add(change.WrittenId);
            meta.NextDedup = change.WrittenId;
            meta.FirstDedup = Math.Min(meta.FirstDedup, meta.NextDedup);
        }

        _abandoned.UnionWith(change.Abandoned);
        _pruned.AddRange(change.Pruned);
    }

    public async Task DeleteAllAsync(LogMeta meta)
    {
        var all = _records.Select(r => (r.Id, r.Record)).Concat(_pruned).ToList();
        _records.Clear();
        _pruned.Clear();
        await Task.WhenAll(all.Select(r => store.ClearAsync(LogRecordStore.DedupName(r.Id), r.Record)));
        meta.FirstDedup = meta.NextDedup;
    }

    private async Task DeletePrunedAsync(long id, StoredRecord<DedupRecord> record)
    {
        try
        {
            await store.ClearAsync(LogRecordStore.DedupName(id), record);
        }
        catch (Exception exception)
        {
            // Below FirstDedup it is never read again: only its storage is lost.
            LogDedupDeleteFailed(exception, store.GrainId, id);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Log of {GrainId}: deleting expired deduplication record {Record} failed; it stays in storage unused")]
    private partial void LogDedupDeleteFailed(Exception exception, GrainId grainId, long record);
}
