namespace OrleansBroker.Server.Queues.Leases;

/// <summary>
/// Settles the queue applied whose commit then failed. The settle stands (its lease is gone, its change is stored by the
/// next commit), but its caller was told it failed and may send it again: a retry with the same sequence and lease token
/// is answered as the first call would have been, once a commit lands, instead of <c>LeaseLost</c> for a settle that
/// holds. So a settle call either holds or is safe to repeat. Bounded: past <paramref name="capacity"/> the oldest are
/// forgotten (a retry of one of those is <c>LeaseLost</c>, as after a restart, when an unconfirmed settle is undone
/// and its message is delivered again).
/// </summary>
internal sealed class UnconfirmedSettles(int capacity)
{
    private readonly Dictionary<long, long> _tokens = [];
    private readonly Queue<(long Sequence, long Token)> _order = new();

    public int Count => _tokens.Count;

    public void Add(long sequence, long token)
    {
        _tokens[sequence] = token;
        _order.Enqueue((sequence, token));
        while (_order.Count > capacity && _order.TryDequeue(out var oldest))
        {
            if (_tokens.TryGetValue(oldest.Sequence, out var held) && held == oldest.Token)
            {
                _tokens.Remove(oldest.Sequence);
            }
        }
    }

    /// <summary>True (and forgotten here) if the settle of <paramref name="sequence"/> under <paramref name="token"/> was applied and not confirmed.</summary>
    public bool TryTake(long sequence, long token)
    {
        if (!_tokens.TryGetValue(sequence, out var held) || held != token)
        {
            return false;
        }

        _tokens.Remove(sequence);
        return true;
    }

    public void Clear()
    {
        _tokens.Clear();
        _order.Clear();
    }
}
