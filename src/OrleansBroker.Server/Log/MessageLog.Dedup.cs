using Microsoft.Extensions.Logging;

namespace OrleansBroker.Server.Log;

/// <summary>
/// The log's deduplication records: each commit holding producer-set ids writes them as one
/// <c>d{id}</c> record, numbered apart from the segments because they outlive them (a message acked a
/// minute ago is still a duplicate when published again). Recovery reads the records in
/// [<see cref="LogMeta.FirstDedup"/>, <see cref="LogMeta.NextDedup"/>); <see cref="PruneDedup"/> drops
/// those past the window. The id lookup itself is the queue's (<see cref="RecoveredDedupMarks"/>).
/// </summary>
internal sealed partial class MessageLog
{
    private readonly Queue<(long Id, long NewestTicks, StoredRecord<DedupRecord> Record)> _dedupRecords = new();
    private readonly List<(long Id, StoredRecord<DedupRecord> Record)> _dedupPruned = [];
    private readonly HashSet<long> _abandonedDedup = [];

    /// <summary>The marks read by <see cref="LoadAsync"/>, oldest first; the queue takes them once.</summary>
    public List<DedupMark> RecoveredDedupMarks { get; private set; } = [];

    /// <summary>Number of deduplication records live in storage.</summary>
    public int DedupRecordCount => _dedupRecords.Count;

    private async Task LoadDedupAsync()
    {
        // A record at or past NextDedup belongs to a commit whose metadata never landed.
        for (var id = _meta.State.NextDedup; ; id++)
        {
            var stray = new StoredRecord<DedupRecord>();
            await _storage.ReadStateAsync(DedupName(id), _grainId, stray);
            if (!stray.RecordExists)
            {
                break;
            }

            await _storage.ClearStateAsync(DedupName(id), _grainId, stray);
        }

        var ids = new List<long>();
        for (var id = _meta.State.FirstDedup; id < _meta.State.NextDedup; id++)
        {
            ids.Add(id);
        }

        var marks = new List<DedupMark>();
        foreach (var chunk in ids.Chunk(LoadParallelism))
        {
            var records = await Task.WhenAll(chunk.Select(async id =>
            {
                var record = new StoredRecord<DedupRecord>();
                await _storage.ReadStateAsync(DedupName(id), _grainId, record);
                return (Id: id, Record: record);
            }));

            foreach (var (id, record) in records)
            {
                // Absent: a commit that failed after its metadata landed (its messages were refused, so were their ids).
                if (record.RecordExists && record.State.Marks.Count > 0)
                {
                    _dedupRecords.Enqueue((id, record.State.Marks.Max(m => m.AcceptedTicks), record));
                    marks.AddRange(record.State.Marks);
                }
            }
        }

        RecoveredDedupMarks = marks;
    }

    /// <summary>Lets go of the records whose newest id was accepted before <paramref name="olderThanTicks"/>; deleted after the next commit.</summary>
    public void PruneDedup(long olderThanTicks)
    {
        var pruned = false;
        while (_dedupRecords.TryPeek(out var head) && head.NewestTicks < olderThanTicks)
        {
            _dedupRecords.Dequeue();
            _dedupPruned.Add((head.Id, head.Record));
            pruned = true;
        }

        if (pruned)
        {
            _meta.State.FirstDedup = _dedupRecords.TryPeek(out var first) ? first.Id : _meta.State.NextDedup;
            _metaDirty = true;
            EnsureFlushing();
        }
    }

    private (long Id, StoredRecord<DedupRecord>? Record) NewDedupRecord(List<DedupMark> marks) =>
        (_meta.State.NextDedup++, new StoredRecord<DedupRecord> { State = new DedupRecord { Marks = marks } });

    private List<(long Id, StoredRecord<DedupRecord> Record)> TakePrunedDedup()
    {
        var taken = _dedupPruned.ToList();
        _dedupPruned.Clear();
        return taken;
    }

    private void RestorePrunedDedup(List<(long Id, StoredRecord<DedupRecord> Record)> pruned) => _dedupPruned.AddRange(pruned);

    /// <summary>After a commit: its record joins the live ones; records it moved FirstDedup past are deleted (not awaited).</summary>
    private void DedupCommitted((long Id, StoredRecord<DedupRecord>? Record) written, List<(long Id, StoredRecord<DedupRecord> Record)> pruned)
    {
        if (written.Record is { } record)
        {
            _dedupRecords.Enqueue((written.Id, record.State.Marks.Max(m => m.AcceptedTicks), record));
        }

        foreach (var (id, old) in pruned)
        {
            _ = DeletePrunedAsync(id, old);
        }
    }

    private async Task DeletePrunedAsync(long id, StoredRecord<DedupRecord> record)
    {
        try
        {
            await _storage.ClearStateAsync(DedupName(id), _grainId, record);
        }
        catch (Exception exception)
        {
            // Below FirstDedup it is never read again: only its storage is lost.
            LogDedupDeleteFailed(exception, _grainId, id);
        }
    }

    private async Task DeleteAllDedupAsync()
    {
        var all = _dedupRecords.Select(r => (r.Id, r.Record)).Concat(TakePrunedDedup()).ToList();
        _dedupRecords.Clear();
        await Task.WhenAll(all.Select(r => _storage.ClearStateAsync(DedupName(r.Id), _grainId, r.Record)));
        _meta.State.FirstDedup = _meta.State.NextDedup;
    }

    private static string DedupName(long id) => "d" + id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Log of {GrainId}: deleting expired deduplication record {Record} failed; it stays in storage unused")]
    private partial void LogDedupDeleteFailed(Exception exception, GrainId grainId, long record);
}
