namespace OrleansBroker.Push.Pushing;

/// <summary>
/// How many requests an endpoint gets at once, as Pub/Sub's push flow control does it: one at first, one more after each
/// success (so it doubles per round of successes) up to the endpoint's most, halved on each failure. After
/// <c>failuresToOpen</c> failures in a row the circuit opens: nothing goes out for a pause (100 ms, doubled with each failure
/// after, up to <c>maxPause</c>), then one request probes; a success closes it. Only the one loop taking deliveries enters.
/// </summary>
internal sealed class PushWindow(int max, int failuresToOpen, TimeSpan maxPause, TimeProvider time)
{
    private static readonly TimeSpan FirstPause = TimeSpan.FromMilliseconds(100);
    private readonly Lock _lock = new();
    private double _limit = 1;
    private int _inFlight;
    private int _failuresInARow;
    private TimeSpan _pause = FirstPause;
    private DateTimeOffset _openUntil;
    private TaskCompletionSource? _waiter;

    /// <summary>Requests allowed in flight now.</summary>
    public int Limit
    {
        get
        {
            lock (_lock)
            {
                return (int)_limit;
            }
        }
    }

    /// <summary>Whether the circuit is open (pushing paused or probing after repeated failures).</summary>
    public bool Open
    {
        get
        {
            lock (_lock)
            {
                return _failuresInARow >= failuresToOpen;
            }
        }
    }

    /// <summary>Waits until one more request may go out, and counts it; never once <paramref name="cancellationToken"/> is cancelled.</summary>
    public async Task EnterAsync(CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            Task wait;
            lock (_lock)
            {
                var pause = _openUntil - time.GetUtcNow();
                if (pause > TimeSpan.Zero)
                {
                    wait = Task.Delay(pause, time, cancellationToken);
                }
                else if (_inFlight < (int)_limit)
                {
                    _inFlight++;
                    return;
                }
                else
                {
                    _waiter = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                    wait = _waiter.Task.WaitAsync(cancellationToken);
                }
            }

            await wait;
        }
    }

    /// <summary>A request ended: widens the window on success, halves it (and may open the circuit) on failure.</summary>
    public void Exit(bool success)
    {
        TaskCompletionSource? waiter;
        lock (_lock)
        {
            _inFlight--;
            if (success)
            {
                _limit = Math.Min(max, _limit + 1);
                _failuresInARow = 0;
                _pause = FirstPause;
            }
            else
            {
                _limit = Math.Max(1, _limit / 2);
                if (++_failuresInARow >= failuresToOpen)
                {
                    _openUntil = time.GetUtcNow() + _pause;
                    _pause = TimeSpan.FromTicks(Math.Min(maxPause.Ticks, _pause.Ticks * 2));
                }
            }

            waiter = _waiter;
            _waiter = null;
        }

        waiter?.TrySetResult();
    }
}
