using OrleansBroker.Server.Log;

namespace OrleansBroker.Server.Queues.Publishing;

/// <summary>
/// A queue's producer-set message ids seen within its dedup window, for idempotent publish. In memory,
/// rebuilt on activation from the log's deduplication records (which make it durable). A publish still
/// being committed is in here too, so a repeat that arrives meanwhile waits for the first one's outcome.
/// </summary>
internal sealed class Deduplicator
{
    private readonly Dictionary<string, Mark> _marks = new(StringComparer.Ordinal);
    private readonly Queue<(string Id, long Ticks)> _order = new();

    /// <summary>Ids held now.</summary>
    public int Count => _marks.Count;

    /// <summary>The first publish of <paramref name="id"/> if it was accepted at or after <paramref name="sinceTicks"/>.</summary>
    public bool TryFind(string id, long sinceTicks, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Mark? mark)
    {
        if (_marks.TryGetValue(id, out mark) && mark.AcceptedTicks >= sinceTicks)
        {
            return true;
        }

        mark = null;
        return false;
    }

    /// <summary>Records an id being published now; <paramref name="pending"/> completes when its commit does.</summary>
    public void Add(DedupMark mark, Task pending)
    {
        _marks[mark.MessageId] = new Mark(mark.Sequence, mark.AcceptedTicks) { Pending = pending };
        _order.Enqueue((mark.MessageId, mark.AcceptedTicks));
    }

    /// <summary>The commit holding these ids succeeded.</summary>
    public void Committed(IEnumerable<DedupMark> marks)
    {
        foreach (var mark in marks)
        {
            if (_marks.TryGetValue(mark.MessageId, out var held) && held.Sequence == mark.Sequence)
            {
                held.Pending = null;
            }
        }
    }

    /// <summary>The commit holding these ids failed: nothing was stored, so a retry must be accepted.</summary>
    public void Failed(IEnumerable<DedupMark> marks)
    {
        foreach (var mark in marks)
        {
            if (_marks.TryGetValue(mark.MessageId, out var held) && held.Sequence == mark.Sequence)
            {
                _marks.Remove(mark.MessageId);
            }
        }
    }

    /// <summary>Takes the marks recovery read, oldest first.</summary>
    public void Load(IEnumerable<DedupMark> marks)
    {
        foreach (var mark in marks)
        {
            _marks[mark.MessageId] = new Mark(mark.Sequence, mark.AcceptedTicks);
            _order.Enqueue((mark.MessageId, mark.AcceptedTicks));
        }
    }

    /// <summary>Forgets ids accepted before <paramref name="olderThanTicks"/>.</summary>
    public void Prune(long olderThanTicks)
    {
        while (_order.TryPeek(out var head) && head.Ticks < olderThanTicks)
        {
            if (!_marks.TryGetValue(head.Id, out var mark) || mark.AcceptedTicks != head.Ticks)
            {
                // Superseded (a later publish of the id after the window) or taken back by a failed commit.
                _order.Dequeue();
                continue;
            }

            if (mark.Pending is not null)
            {
                // Its commit is still running: a repeat must keep waiting for it; pruned once that ends.
                break;
            }

            _order.Dequeue();
            _marks.Remove(head.Id);
        }
    }

    public void Clear()
    {
        _marks.Clear();
        _order.Clear();
    }

    /// <summary>The first publish of an id: its sequence, when it was accepted, and its commit while that runs.</summary>
    internal sealed class Mark(long sequence, long acceptedTicks)
    {
        public long Sequence { get; } = sequence;

        public long AcceptedTicks { get; } = acceptedTicks;

        public Task? Pending { get; set; }
    }
}
