using OrleansBroker.Server.Log;

namespace OrleansBroker.Server.Queues;

/// <summary>
/// Message groups (ordering keys): of the messages sharing a key, only one at a time holds the group's
/// turn and may be ready, delayed for a retry, or in flight; the others wait in the group's line in
/// sequence (publish) order. The turn passes on only when the holder leaves the queue (acked,
/// dead-lettered, expired, purged, dropped), so a retried message is delivered again before its
/// successors, and a stuck key blocks only itself. In memory only: recovery rebuilds it, and until
/// recovery has read the whole log a message may take a turn only if every older message has been read.
/// </summary>
internal sealed partial class QueueGrain
{
    private readonly Dictionary<string, MessageGroup> _groups = new(StringComparer.Ordinal);

    /// <summary>Highest sequence recovery has handed over; every live message at or below it is known.</summary>
    private long _recoveredThrough;

    /// <summary>Whether recovery is still reading the log (see <see cref="MayTakeTurn"/>).</summary>
    private bool _recovering = true;

    /// <summary>Key in <see cref="_ready"/>: higher priority first, then lower sequence (FIFO within a level).</summary>
    private static long ReadyKey(LogEntry entry) => ((long)(BrokerLimits.MaxPriority - entry.Priority) << 56) | entry.Sequence;

    /// <summary>Makes a deliverable message ready, or puts it in its group's line when another message of the group holds the turn.</summary>
    private void MakeReady(LogEntry entry)
    {
        if (entry.OrderingKey is not { } key)
        {
            _ready.Enqueue(entry.Sequence, ReadyKey(entry));
            return;
        }

        if (!_groups.TryGetValue(key, out var group))
        {
            group = new MessageGroup();
            _groups.Add(key, group);
        }

        if (group.Turn == entry.Sequence)
        {
            _ready.Enqueue(entry.Sequence, ReadyKey(entry));
            return;
        }

        group.Line.Enqueue(entry.Sequence, entry.Sequence);
        if (group.Turn == 0)
        {
            PassTurn(key, group);
        }
    }

    /// <summary>A recovered retry waiting for its time keeps (takes) its group's turn, unless an older message of the group has it.</summary>
    private void HoldTurn(LogEntry entry)
    {
        if (entry.OrderingKey is not { } key)
        {
            return;
        }

        if (!_groups.TryGetValue(key, out var group))
        {
            group = new MessageGroup();
            _groups.Add(key, group);
        }

        if (group.Turn == 0 && (!group.Line.TryPeek(out var first, out _) || first > entry.Sequence))
        {
            group.Turn = entry.Sequence;
        }
    }

    /// <summary>The message has left the queue for good: if it held its group's turn, the next in line gets it.</summary>
    private void Finish(LogEntry entry)
    {
        if (entry.OrderingKey is { } key && _groups.TryGetValue(key, out var group) && group.Turn == entry.Sequence)
        {
            group.Turn = 0;
            PassTurn(key, group);
        }
    }

    /// <summary>Gives the turn to the oldest live message in line and makes it ready; drops the group when nothing is left.</summary>
    private void PassTurn(string key, MessageGroup group)
    {
        while (group.Line.TryPeek(out var sequence, out _) && MayTakeTurn(sequence))
        {
            group.Line.Dequeue();
            if (_log.TryGetEntry(sequence, out var next) && !_leaving.Contains(sequence) && !_leases.IsLeased(sequence))
            {
                group.Turn = sequence;
                _ready.Enqueue(sequence, ReadyKey(next));
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
    private bool MayTakeTurn(long sequence) => !HeldForGrowth && (!_recovering || sequence <= _recoveredThrough);

    /// <summary>Once recovery has read the whole log, groups held back meanwhile go on.</summary>
    private async Task ReleaseGroupsAfterRecoveryAsync()
    {
        await _log.Recovery;
        _recovering = false;
        ResumeGroups();
    }

    /// <summary>Groups that were held back (recovery, growth) and may go on now get their turn.</summary>
    private void ResumeGroups()
    {
        foreach (var (key, group) in _groups.ToList())
        {
            if (group.Turn == 0)
            {
                PassTurn(key, group);
            }
        }

        Dispatch();
    }

    /// <summary>Purge: every message waiting in a line is settled; a group keeps its turn only while the holder is in flight.</summary>
    private long PurgeGroups()
    {
        long purged = 0;
        foreach (var (key, group) in _groups.ToList())
        {
            while (group.Line.TryDequeue(out var sequence, out _))
            {
                if (!_leaving.Contains(sequence) && _log.Settle(sequence))
                {
                    purged++;
                }
            }

            if (!_leases.IsLeased(group.Turn))
            {
                _groups.Remove(key);
            }
        }

        return purged;
    }

    private sealed class MessageGroup
    {
        /// <summary>Sequence of the message holding the turn, or 0.</summary>
        public long Turn { get; set; }

        /// <summary>The group's other messages, oldest first.</summary>
        public PriorityQueue<long, long> Line { get; } = new();
    }
}
