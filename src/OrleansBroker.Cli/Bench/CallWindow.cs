namespace OrleansBroker.Cli.Bench;

/// <summary>
/// Calls sent without awaiting each one (acks the client batches, paced publishes); <see cref="DrainAsync"/>
/// awaits every one still outstanding, so a run ends only when the broker confirmed them all.
/// </summary>
internal sealed class CallWindow
{
    private readonly Lock _lock = new();
    private List<Task> _pending = [];
    private int _pruneAt = 1024;
    private long _failed;
    private string? _firstError;

    /// <summary>Calls that failed (an ack whose lease was lost: the message comes back).</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>The error of the first failed call seen, for the run's report on stderr.</summary>
    public string? FirstError => Volatile.Read(ref _firstError);

    public void Track(Task ack)
    {
        lock (_lock)
        {
            _pending.Add(ack);
            if (_pending.Count >= _pruneAt)
            {
                foreach (var failed in _pending.Where(t => t.IsFaulted))
                {
                    Fail(failed);
                }

                _pending.RemoveAll(t => t.IsCompleted);
                _pruneAt = Math.Max(1024, _pending.Count * 2);
            }
        }
    }

    public async Task DrainAsync()
    {
        List<Task> pending;
        lock (_lock)
        {
            pending = _pending;
            _pending = [];
        }

        foreach (var ack in pending)
        {
            try
            {
                await ack.ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Counted below; the message is delivered again and shows up as a duplicate.
            }

            if (ack.IsFaulted)
            {
                Fail(ack);
            }
        }
    }

    private void Fail(Task call)
    {
        Interlocked.Increment(ref _failed);
        Interlocked.CompareExchange(ref _firstError, call.Exception!.GetBaseException().ToString(), null);
    }
}
