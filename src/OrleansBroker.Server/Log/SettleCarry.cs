namespace OrleansBroker.Server.Log;

/// <summary>
/// Keeps a log's settle records (<c>a{id}</c>) one commit behind its metadata. A commit writes its records side by side, so
/// a crash can land any part of them: a settle record written by the commit that settles could land without the
/// metadata that counts the settle (the count falls short), or the metadata without it (the message comes back and
/// its next settle counts twice). Instead the metadata carries the settle state of every segment the commit changed
/// (<see cref="LogMeta.CarriedSettles"/>) and a later commit writes the segment's own record with that state, once the
/// metadata holding it has landed; a segment whose messages are all settled is deleted the same way. Recovery takes a
/// segment's carried state over its record. A segment settled commit after commit has its record written once it
/// goes quiet, not at every commit; the metadata grows by the settle state of the segments the last two commits changed.
/// A log writes no settle record before a metadata of its own has landed: an activation that loaded the log before
/// another took it over fails its first commit on the metadata's ETag, and records written beside it would land anyway,
/// older than the owner's or in the way of the owner's next write of them.
/// </summary>
internal sealed class SettleCarry
{
    /// <summary>Segments the index let go of (every message settled) whose records a later commit deletes.</summary>
    private readonly Dictionary<long, Segment> _cleared = [];

    /// <summary>The carried states of the last landed metadata whose records are not written yet.</summary>
    private List<CarriedSettles> _landed = [];

    /// <summary>Whether a metadata this log wrote has landed: until then it carries what it loaded instead of writing it.</summary>
    private bool _owned;

    /// <summary>Whether the last landed metadata carries states (or cleared segments) the next commit writes.</summary>
    public bool HasWrites => _landed.Count > 0;

    /// <summary>Takes the states a loaded metadata carries: the first commit writes them to their records.</summary>
    public void Load(LogMeta meta)
    {
        _landed = [.. meta.CarriedSettles];
        _owned = false;
    }

    /// <summary>
    /// For a commit that changed <paramref name="changed"/>: the records it writes (or deletes), and what it carries, which
    /// is what is left to write once it lands. The metadata carries both.
    /// </summary>
    public (List<CarriedSettles> Write, List<CarriedSettles> Carry) Take(List<CarriedSettles> changed, SegmentIndex index, LogMeta meta, bool recovering)
    {
        var changedIds = changed.Select(c => c.Segment).ToHashSet();
        var write = new List<CarriedSettles>();
        var carry = new List<CarriedSettles>(changed);
        foreach (var landed in _landed)
        {
            if (changedIds.Contains(landed.Segment))
            {
                // Changed again: carried on with its new state.
                continue;
            }

            if (!_owned)
            {
                // Loaded, not landed by this log: carried on until its own metadata lands.
                carry.Add(landed);
            }
            else if (landed.State is null || index.TryGetSegment(landed.Segment, out _))
            {
                write.Add(landed);
            }
            else if (recovering)
            {
                // Recovery has not read the segment yet: its record is written by a commit after that.
                carry.Add(landed);
            }

            // Otherwise the segment is gone (the log was deleted): there is nothing to write.
        }

        meta.CarriedSettles = [.. carry, .. write];
        return (write, carry);
    }

    /// <summary>Writes a carried state to the segment's record, or deletes the records of a segment whose messages are all settled.</summary>
    public Task WriteAsync(LogRecordStore store, SegmentIndex index, CarriedSettles carried)
    {
        if (carried.State is null)
        {
            return _cleared.TryGetValue(carried.Segment, out var cleared)
                ? store.DeleteSegmentAsync(cleared)
                : DeleteByNameAsync(store, carried.Segment);
        }

        return index.TryGetSegment(carried.Segment, out var segment)
            ? WriteSettlesAsync(store, segment, carried.State)
            : Task.CompletedTask;
    }

    /// <summary>A commit landed: what it carries is left to write, the segments it cleared wait for their deletion.</summary>
    public void Landed(List<CarriedSettles> written, List<CarriedSettles> carried, IEnumerable<Segment> cleared)
    {
        foreach (var deleted in written.Where(w => w.State is null))
        {
            _cleared.Remove(deleted.Segment);
        }

        foreach (var segment in cleared)
        {
            _cleared[segment.Id] = segment;
        }

        _landed = carried;
        _owned = true;
    }

    /// <summary>Deletes the records of the cleared segments not deleted yet and forgets every carried state (the log is deleted).</summary>
    public async Task DeleteAllAsync(LogRecordStore store)
    {
        var deletes = _landed.Where(l => l.State is null && !_cleared.ContainsKey(l.Segment)).Select(l => DeleteByNameAsync(store, l.Segment))
            .Concat(_cleared.Values.Select(store.DeleteSegmentAsync))
            .ToList();
        await Task.WhenAll(deletes);
        _cleared.Clear();
        _landed = [];
    }

    /// <summary>The segment's live state has moved on since: the carried copy is written under the record's ETag.</summary>
    private static Task WriteSettlesAsync(LogRecordStore store, Segment segment, SegmentStateRecord state) =>
        store.WriteCopyAsync(LogRecordStore.SettlesName(segment.Id), segment.State, state);

    /// <summary>Deletes a segment known only from a loaded metadata: the segment first, as <see cref="LogRecordStore.DeleteSegmentAsync"/> does.</summary>
    private static async Task DeleteByNameAsync(LogRecordStore store, long id)
    {
        await store.ClearIfPresentAsync<SegmentRecord>(LogRecordStore.SegmentName(id));
        await store.ClearIfPresentAsync<SegmentStateRecord>(LogRecordStore.SettlesName(id));
    }
}
