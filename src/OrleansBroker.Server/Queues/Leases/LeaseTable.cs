namespace OrleansBroker.Server.Queues.Leases;

/// <summary>
/// A queue's deliveries that are out: which consumer holds which message, under which token, until when. A token
/// names one delivery, so a settle or extension that carries an older delivery's token is refused. Plain,
/// single-threaded state: the queue grain decides what an ended lease means for its message.
/// </summary>
internal sealed class LeaseTable
{
    private readonly Dictionary<long, Lease> _leases = [];

    /// <summary>Every expiry time a lease has had; stale ones (extended, ended) are skipped when they come due.</summary>
    private readonly PriorityQueue<(long Sequence, long Token), DateTimeOffset> _expiries = new();

    // Random start: a token from an earlier activation is not taken for one of this activation.
    private long _lastToken = Random.Shared.NextInt64(1, long.MaxValue / 2);

    public int Count => _leases.Count;

    public IEnumerable<KeyValuePair<long, Lease>> All => _leases;

    public bool IsLeased(long sequence) => _leases.ContainsKey(sequence);

    public bool TryGet(long sequence, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Lease? lease) => _leases.TryGetValue(sequence, out lease);

    /// <summary>Whether <paramref name="token"/> is the delivery that holds <paramref name="sequence"/> now.</summary>
    public bool Holds(long sequence, long token) => _leases.TryGetValue(sequence, out var lease) && lease.Token == token;

    /// <summary>Leases <paramref name="sequence"/> to <paramref name="consumerId"/> under a new token.</summary>
    public Lease Grant(long sequence, string consumerId, DateTimeOffset expiresAt) => Add(sequence, new Lease(consumerId, ++_lastToken, expiresAt));

    /// <summary>Takes back a lease an earlier activation handed off, with its token (the consumer settles with it).</summary>
    public Lease Restore(long sequence, string consumerId, long token, DateTimeOffset expiresAt) =>
        Add(sequence, new Lease(consumerId, token, expiresAt) { Received = true });

    /// <summary>Moves the lease's end to <paramref name="expiresAt"/>; false if <paramref name="token"/> no longer holds it.</summary>
    public bool Extend(long sequence, long token, DateTimeOffset expiresAt)
    {
        if (!_leases.TryGetValue(sequence, out var lease) || lease.Token != token)
        {
            return false;
        }

        lease.ExpiresAt = expiresAt;
        _expiries.Enqueue((sequence, token), expiresAt);
        return true;
    }

    /// <summary>Ends the lease if <paramref name="token"/> holds it.</summary>
    public bool TryEnd(long sequence, long token, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Lease? lease)
    {
        if (!_leases.TryGetValue(sequence, out lease) || lease.Token != token)
        {
            lease = null;
            return false;
        }

        _leases.Remove(sequence);
        return true;
    }

    /// <summary>Ends and returns the leases whose end is at or before <paramref name="now"/>, earliest end first.</summary>
    public List<(long Sequence, Lease Lease)> TakeExpired(DateTimeOffset now)
    {
        var expired = new List<(long, Lease)>();
        while (_expiries.TryPeek(out var key, out var at) && at <= now)
        {
            _expiries.Dequeue();
            if (_leases.TryGetValue(key.Sequence, out var lease) && lease.Token == key.Token && lease.ExpiresAt <= now)
            {
                _leases.Remove(key.Sequence);
                expired.Add((key.Sequence, lease));
            }
        }

        return expired;
    }

    /// <summary>The leases held by consumers for which <paramref name="holder"/> is true, as a copy (safe to end them while going through).</summary>
    public List<(long Sequence, Lease Lease)> HeldBy(Func<string, bool> holder) =>
        [.. _leases.Where(l => holder(l.Value.ConsumerId)).Select(l => (l.Key, l.Value))];

    public int CountHeldBy(string consumerId) => _leases.Values.Count(l => l.ConsumerId == consumerId);

    public void Clear()
    {
        _leases.Clear();
        _expiries.Clear();
    }

    private Lease Add(long sequence, Lease lease)
    {
        _leases[sequence] = lease;
        _expiries.Enqueue((sequence, lease.Token), lease.ExpiresAt);
        return lease;
    }
}
