namespace OrleansBroker.Server.Queues.Scheduling;

/// <summary>
/// The queue's messages waiting for a time (a scheduled delivery, a retry's backoff), by that time in UTC ticks. A
/// message is in it at most once; one that leaves early is removed, and its entry in the time index is skipped when
/// it comes due. Plain, single-threaded state: the grain keeps the wake-up timer at <see cref="NextDue"/>.
/// </summary>
internal sealed class DelaySchedule
{
    private readonly Dictionary<long, long> _waiting = [];
    private readonly PriorityQueue<long, long> _byTime = new();

    /// <summary>Messages waiting now.</summary>
    public int Count => _waiting.Count;

    /// <summary>When the earliest waiting message is due, or <see cref="long.MaxValue"/> when none waits.</summary>
    public long NextDue
    {
        get
        {
            DropStaleHead();
            return _byTime.TryPeek(out _, out var at) ? at : long.MaxValue;
        }
    }

    /// <summary>Holds <paramref name="sequence"/> until <paramref name="dueTicks"/> (a new time replaces an earlier one).</summary>
    public void Add(long sequence, long dueTicks)
    {
        _waiting[sequence] = dueTicks;
        _byTime.Enqueue(sequence, dueTicks);
    }

    /// <summary>The message left before its time (expired, dropped, settled); false if it was not waiting.</summary>
    public bool Remove(long sequence) => _waiting.Remove(sequence);

    /// <summary>Takes out every message due at or before <paramref name="nowTicks"/>, earliest first.</summary>
    public List<long> TakeDue(long nowTicks)
    {
        var due = new List<long>();
        while (_byTime.TryPeek(out var sequence, out var at) && at <= nowTicks)
        {
            _byTime.Dequeue();
            if (_waiting.TryGetValue(sequence, out var current) && current == at)
            {
                _waiting.Remove(sequence);
                due.Add(sequence);
            }
        }

        return due;
    }

    /// <summary>Takes out every waiting message, whatever its time (a purge).</summary>
    public List<long> TakeAll()
    {
        var all = _waiting.Keys.ToList();
        Clear();
        return all;
    }

    public void Clear()
    {
        _waiting.Clear();
        _byTime.Clear();
    }

    private void DropStaleHead()
    {
        while (_byTime.TryPeek(out var sequence, out var at) && !(_waiting.TryGetValue(sequence, out var current) && current == at))
        {
            _byTime.Dequeue();
        }
    }
}
