using System.Diagnostics;

namespace OrleansBroker.Cli;

/// <summary>
/// Progress on stderr, at most once a second, for runs that take longer than that: how far, and the rate over the
/// last interval (what the broker does now, not an average that still counts the connection and the warm-up).
/// </summary>
internal sealed class Progress(string verb, long total)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _lastReport = TimeSpan.Zero;
    private long _lastDone;

    public TimeSpan Elapsed => _clock.Elapsed;

    public void Report(long done)
    {
        var now = _clock.Elapsed;
        if (now - _lastReport < TimeSpan.FromSeconds(1) || now < TimeSpan.FromSeconds(1))
        {
            return;
        }

        var rate = (done - _lastDone) / Math.Max((now - _lastReport).TotalSeconds, 0.001);
        _lastReport = now;
        _lastDone = done;
        var of = total > 0 ? $"/{total}" : "";
        Console.Error.WriteLine($"{verb} {done}{of} ({rate:F0} msg/s)");
    }
}
