using System.Diagnostics;

namespace OrleansBroker.Cli;

/// <summary>Progress on stderr, at most once a second, for runs that take longer than that.</summary>
internal sealed class Progress(string verb, long total)
{
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private TimeSpan _lastReport = TimeSpan.FromSeconds(1);

    public TimeSpan Elapsed => _clock.Elapsed;

    public void Report(long done)
    {
        var now = _clock.Elapsed;
        if (now - _lastReport < TimeSpan.FromSeconds(1))
        {
            return;
        }

        _lastReport = now;
        var rate = done / Math.Max(now.TotalSeconds, 0.001);
        var of = total > 0 ? $"/{total}" : "";
        Console.Error.WriteLine($"{verb} {done}{of} ({rate:F0} msg/s)");
    }
}
