namespace OrleansBroker.Server.Log;

/// <summary>
/// The live segments of a log in id order, the live messages read from them (<see cref="LogEntry"/> views, found
/// through their segment by binary search: a few bytes per message in the segment's arrays, no object or table per
/// message) and which segments have their bodies in memory (<see cref="ResidentSegments"/>). Not thread-safe: its
/// log's grain runs it.
/// </summary>
internal sealed class SegmentIndex(long residentBudgetBytes)
{
    private readonly SortedList<long, Segment> _segments = [];
    private readonly ResidentSegments _resident = new(residentBudgetBytes);

    /// <summary>Number of live segments.</summary>
    public int Count => _segments.Count;

    /// <summary>Live messages read so far.</summary>
    public int TrackedCount { get; private set; }

    /// <summary>Body bytes of <see cref="TrackedCount"/>.</summary>
    public long TrackedBytes { get; private set; }

    public int ResidentCount => _resident.Count;

    public long ResidentBytes => _resident.Bytes;

    /// <summary>The live segments, in id order.</summary>
    public IList<Segment> Segments => _segments.Values;

    public bool TryGetSegment(long id, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Segment? segment) =>
        _segments.TryGetValue(id, out segment);

    /// <summary>Whether <paramref name="segment"/> is still the live segment of its id (not deleted since).</summary>
    public bool Holds(Segment segment) => _segments.TryGetValue(segment.Id, out var current) && current == segment;

    /// <summary>The live message with <paramref name="sequence"/>, if it has been read.</summary>
    public bool TryGetEntry(long sequence, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out LogEntry? entry)
    {
        var segments = _segments.Values;
        int low = 0, high = segments.Count - 1, found = -1;
        while (low <= high)
        {
            var mid = (low + high) >>> 1;
            if (segments[mid].FirstSequence <= sequence)
            {
                found = mid;
                low = mid + 1;
            }
            else
            {
                high = mid - 1;
            }
        }

        entry = found >= 0 ? segments[found].Find(sequence) : null;
        return entry is not null;
    }

    /// <summary>The live messages read so far with a sequence above <paramref name="after"/>, in sequence order.</summary>
    public IEnumerable<LogEntry> TrackedEntries(long after)
    {
        foreach (var segment in _segments.Values)
        {
            if (segment.SequenceAt(segment.Count - 1) <= after)
            {
                continue;
            }

            for (var i = 0; i < segment.Count; i++)
            {
                if (segment.EntryAt(i) is { } entry && entry.Sequence > after)
                {
                    yield return entry;
                }
            }
        }
    }

    /// <summary>Up to <paramref name="count"/> live segments after the one with <paramref name="id"/>, in id order.</summary>
    public IEnumerable<Segment> After(long id, int count)
    {
        var index = _segments.IndexOfKey(id);
        if (index < 0)
        {
            yield break;
        }

        var values = _segments.Values;
        for (var i = index + 1; i < values.Count && i <= index + count; i++)
        {
            yield return values[i];
        }
    }

    /// <summary>Adds a segment read or written, with its bodies in memory, and appends its live messages to <paramref name="live"/>.</summary>
    public void Register(Segment segment, List<LogEntry> live)
    {
        _segments.Add(segment.Id, segment);
        _resident.Add(segment);
        var stored = segment.State.State;
        for (var i = 0; i < segment.Count; i++)
        {
            if (!segment.IsSettled(i))
            {
                var sequence = segment.SequenceAt(i);
                segment.SetAttempts(i, stored.Attempts.GetValueOrDefault(sequence));
                // A retry time stored with the segment's settles wins over the time the message was scheduled for.
                if (stored.NotBefore.TryGetValue(sequence, out var retryAt))
                {
                    segment.SetNotBefore(i, retryAt);
                }
                TrackedCount++;
                TrackedBytes += segment.BodyBytesAt(i);
                live.Add(new LogEntry(segment, i));
            }
        }
    }

    /// <summary>Marks <paramref name="entry"/> settled in its segment; false if it was already.</summary>
    public bool Settle(LogEntry entry)
    {
        if (!entry.Segment.MarkSettled(entry))
        {
            return false;
        }

        TrackedCount--;
        TrackedBytes -= entry.BodyBytes;
        return true;
    }

    /// <summary>Bodies read back from storage are in memory again.</summary>
    public void Restored(Segment segment) => _resident.Add(segment);

    /// <summary>Pages out what is past the memory budget.</summary>
    public void TrimResident() => _resident.Trim();

    public void Forget(Segment segment)
    {
        _segments.Remove(segment.Id);
        _resident.Remove(segment);
    }

    public void Clear()
    {
        _segments.Clear();
        _resident.Clear();
        TrackedCount = 0;
        TrackedBytes = 0;
    }

    /// <summary>
    /// Lowest live segment id once <paramref name="cleared"/> are deleted, or <paramref name="otherwise"/>. Walks the
    /// segments only past those being deleted, so a commit costs nothing per older live segment.
    /// </summary>
    public long FirstIdWithout(List<Segment> cleared, long otherwise)
    {
        var clearedIds = cleared.Count == 0 ? null : cleared.Select(c => c.Id).ToHashSet();
        foreach (var id in _segments.Keys)
        {
            if (clearedIds is null || !clearedIds.Contains(id))
            {
                return id;
            }
        }

        return otherwise;
    }
}
