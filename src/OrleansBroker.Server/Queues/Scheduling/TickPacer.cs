using OrleansBroker.Server.Telemetry;

namespace OrleansBroker.Server.Queues.Scheduling;

/// <summary>
/// Runs a queue's periodic tick as often as the queue needs it (<see cref="QueueCore.Pace"/>): every
/// <paramref name="every"/> while it has work in hand, every <paramref name="slow"/> with consumers alone, not at all when
/// quiet. Any call to the queue sets it back to every <paramref name="every"/>. Counts the running ticks in
/// <see cref="BrokerMetrics.TickingQueues"/>.
/// </summary>
internal sealed class TickPacer(TimeSpan every, TimeSpan slow, BrokerMetrics metrics)
{
    private IGrainTimer? _timer;
    private TickPace _pace = TickPace.None;

    /// <summary>Takes the grain's tick timer (created stopped) and runs it at the full pace.</summary>
    public void Start(IGrainTimer timer)
    {
        _timer = timer;
        Set(TickPace.Every);
    }

    /// <summary>A call arrived: it may bring work with a time to it (a delivery out, a message with a time to live).</summary>
    public void CallArrived()
    {
        if (_pace != TickPace.Every && _timer is not null)
        {
            Set(TickPace.Every);
        }
    }

    /// <summary>Runs the tick at <paramref name="pace"/> from now on.</summary>
    public void Set(TickPace pace)
    {
        if (pace == _pace || _timer is null)
        {
            return;
        }

        if ((pace == TickPace.None) != (_pace == TickPace.None))
        {
            metrics.Ticking(pace != TickPace.None);
        }

        _pace = pace;
        var period = pace switch
        {
            TickPace.Every => every,
            TickPace.Slow => slow > every ? slow : every,
            _ => Timeout.InfiniteTimeSpan,
        };
        _timer.Change(period, period);
    }

    /// <summary>The activation ends: the tick stops for good.</summary>
    public void Stop()
    {
        Set(TickPace.None);
        _timer = null;
    }
}
