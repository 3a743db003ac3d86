using OrleansBroker.Server.Log;

namespace OrleansBroker.Server.Queues.Ready;

/// <summary>
/// The queue's deliverable messages in delivery order (higher priority first, then lower sequence: FIFO within a level,
/// and a message put back goes back to its place), and its message groups (ordering keys): of the messages sharing a
/// key, only one at a time holds the group's turn and may be ready, delayed for a retry, or in flight; the others wait
/// in the group's line in sequence (publish) order. The turn passes on only when the holder leaves the queue (acked,
/// dead-lettered, expired, purged, dropped: <see cref="Finish"/>), so a retried message is delivered again before its
/// successors, and a stuck key blocks only itself. In memory only: recovery rebuilds it, and until recovery has read
/// the whole log a message may take a turn only if every older message has been read (<see cref="RecoveredThrough"/>).
/// Entries are not removed when their message settles elsewhere: the queue skips them when it reaches them. Plain,
/// single-threaded state.
/// </summary>
/// <param name="idle">The live entry of a sequence if it may be delivered now (not settled, leaving or leased), else null.</param>
/// <param name="heldForGrowth">Whether keyed messages wait (a partition added by growth, until its source let go of their keys).</param>
internal sealed class ReadyIndex(Func<long, LogEntry?> idle, Func<bool> heldForGrowth)
{
    /// <summary>Bits of a ready key that hold the sequence; the inverted priority sits above them.</summary>
    private const int SequenceBits = 56;

    /// <summary>Ready keys: the priority inverted above the sequence, so the smallest key is the next to deliver.</summary>
    private readonly KeyHeap _ready = new();
    private readonly Dictionary<string, MessageGroup> _groups = new(StringComparer.Ordinal);

    /// <summary>Highest sequence recovery has handed over; every live message at or below it is known.</summary>
    public long RecoveredThrough { get; set; }

    /// <summary>Whether recovery is still reading the log; set to false once it has, then <see cref="ResumeGroups"/>.</summary>
    public bool Recovering { get; set; } = true;

    /// <summary>Entries in the ready order, stale ones included.</summary>
    public int Count => _ready.Count;

    /// <summary>The keys of the groups with a message in the queue.</summary>
    public IEnumerable<string> GroupKeys => _groups.Keys;

    /// <summary>The sequence first in delivery order.</summary>
    public bool TryPeek(out long sequence)
    {
        var found = _ready.TryPeek(out var key);
        sequence = SequenceOf(key);
        return found;
    }

    /// <summary>Takes the first in delivery order off (delivered, or found stale).</summary>
    public long Dequeue() => SequenceOf(_ready.Dequeue());

    /// <summary>Makes a deliverable message ready, or puts it in its group's line when another message of the group holds the turn.</summary>
    public void MakeReady(LogEntry entry)
    {
        if (entry.OrderingKey is not { } key)
        {
            Enqueue(entry);
            return;
        }

        var group = GroupOf(key);
        if (group.Turn == entry.Sequence)
        {
            Enqueue(entry);
            return;
        }

        group.Line.Enqueue(entry.Sequence);
        if (group.Turn == 0)
        {
            PassTurn(key, group);
        }
    }

    /// <summary>A recovered retry waiting for its time keeps (takes) its group's turn, unless an older message of the group has it.</summary>
    public void HoldTurn(LogEntry entry)
    {
        if (entry.OrderingKey is not { } key)
        {
            return;
        }

        var group = GroupOf(key);
        if (group.Turn == 0 && (!group.Line.TryPeek(out var first) || first > entry.Sequence))
        {
            group.Turn = entry.Sequence;
        }
    }

    /// <summary>The message has left the queue for good: if it held its group's turn, the next in line gets it.</summary>
    public void Finish(LogEntry entry)
    {
        if (entry.OrderingKey is { } key && _groups.TryGetValue(key, out var group) && group.Turn == entry.Sequence)
        {
            group.Turn = 0;
            PassTurn(key, group);
        }
    }

    /// <summary>Groups that were held back (recovery, growth) and may go on now get their turn.</summary>
    public void ResumeGroups()
    {
        foreach (var (key, group) in _groups.ToList())
        {
            if (group.Turn == 0)
            {
                PassTurn(key, group);
            }
        }
    }

    /// <summary>
    /// Purge: empties the ready order and every group's line, returning what they held for the queue to settle; a group
    /// keeps its turn only while <paramref name="inFlight"/> says its holder is out.
    /// </summary>
    public List<long> TakeAll(Func<long, bool> inFlight)
    {
        var taken = new List<long>(_ready.Count);
        while (_ready.TryDequeue(out var key))
        {
            taken.Add(SequenceOf(key));
        }

        foreach (var (key, group) in _groups.ToList())
        {
            while (group.Line.TryDequeue(out var sequence))
            {
                taken.Add(sequence);
            }

            if (!inFlight(group.Turn))
            {
                _groups.Remove(key);
            }
        }

        return taken;
    }

    public void Clear()
    {
        _ready.Clear();
        _groups.Clear();
    }

    /// <summary>Key in the ready order: higher priority first, then lower sequence (FIFO within a level).</summary>
    private void Enqueue(LogEntry entry) => _ready.Enqueue(((long)(BrokerLimits.MaxPriority - entry.Priority) << SequenceBits) | entry.Sequence);

    private static long SequenceOf(long key) => key & ((1L << SequenceBits) - 1);

    private MessageGroup GroupOf(string key)
    {
        if (!_groups.TryGetValue(key, out var group))
        {
            group = new MessageGroup();
            _groups.Add(key, group);
        }

        return group;
    }

    /// <summary>Gives the turn to the oldest live message in line and makes it ready; drops the group when nothing is left.</summary>
    private void PassTurn(string key, MessageGroup group)
    {
        while (group.Line.TryPeek(out var sequence) && MayTakeTurn(sequence))
        {
            group.Line.Dequeue();
            if (idle(sequence) is { } next)
            {
                group.Turn = sequence;
                Enqueue(next);
                return;
            }
        }

        if (group.Turn == 0 && group.Line.Count == 0)
        {
            _groups.Remove(key);
        }
    }

    /// <summary>
    /// While recovery runs, an older message of the group may still be unread: only what recovery has reached may take a turn.
    /// On a partition added by growth, no keyed message takes a turn until the partition its keys came from has settled theirs.
    /// </summary>
    private bool MayTakeTurn(long sequence) => !heldForGrowth() && (!Recovering || sequence <= RecoveredThrough);

    private sealed class MessageGroup
    {
        /// <summary>Sequence of the message holding the turn, or 0.</summary>
        public long Turn { get; set; }

        /// <summary>The group's other messages' sequences, oldest first.</summary>
        public KeyHeap Line { get; } = new();
    }
}
