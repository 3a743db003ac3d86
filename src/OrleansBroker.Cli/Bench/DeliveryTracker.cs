using System.Diagnostics;

namespace OrleansBroker.Cli.Bench;

/// <summary>
/// Counts what the consumers received against what the producers were asked to send: first
/// deliveries, duplicates, foreign bodies, and the send-to-receive latency of each first delivery.
/// Thread-safe; consumers call <see cref="Record"/> concurrently.
/// </summary>
internal sealed class DeliveryTracker
{
    private readonly Lock _lock = new();
    private readonly bool[][] _seen;
    private readonly long[] _latencyTicks;
    private readonly TaskCompletionSource _all = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _first = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly long _expected;
    private long _received;
    private long _duplicates;
    private long _foreign;

    /// <param name="perProducer">How many messages each producer sends, by producer id.</param>
    public DeliveryTracker(IReadOnlyList<long> perProducer)
    {
        _seen = perProducer.Select(n => new bool[n]).ToArray();
        _expected = perProducer.Sum();
        _latencyTicks = new long[_expected];
        if (_expected == 0)
        {
            _all.SetResult();
            _first.SetResult();
        }
    }

    public long Expected => _expected;

    public long Received => Interlocked.Read(ref _received);

    public long Duplicates => Interlocked.Read(ref _duplicates);

    /// <summary>Bodies that are not from this run (a queue that was not empty).</summary>
    public long Foreign => Interlocked.Read(ref _foreign);

    public long Lost => _expected - Received;

    /// <summary>Completes when every expected message has been received once.</summary>
    public Task AllReceived => _all.Task;

    /// <summary>Completes when the first expected message has been received.</summary>
    public Task FirstReceived => _first.Task;

    public void Record(byte[] body)
    {
        var now = Stopwatch.GetTimestamp();
        if (!BenchPayload.TryRead(body, out var producer, out var sequence, out var sentAt)
            || producer < 0 || producer >= _seen.Length || sequence < 0 || sequence >= _seen[producer].Length)
        {
            Interlocked.Increment(ref _foreign);
            return;
        }

        lock (_lock)
        {
            if (_seen[producer][sequence])
            {
                _duplicates++;
                return;
            }

            _seen[producer][sequence] = true;
            _latencyTicks[_received] = now - sentAt;
            _received++;
            _first.TrySetResult();
            if (_received == _expected)
            {
                _all.TrySetResult();
            }
        }
    }

    /// <summary>Latency percentiles of the first deliveries so far, in milliseconds.</summary>
    public LatencySummary Latency() => LatencySummary.FromTicks(LatencyTicks());

    /// <summary>Send-to-receive times of the first deliveries so far, in <see cref="Stopwatch"/> ticks.</summary>
    public long[] LatencyTicks()
    {
        lock (_lock)
        {
            return _latencyTicks.AsSpan(0, (int)_received).ToArray();
        }
    }
}

/// <summary>Percentiles of a set of latencies, in milliseconds; all zero when there are none.</summary>
internal sealed record LatencySummary(double P50, double P99, double Max)
{
    public static LatencySummary FromTicks(long[] ticks)
    {
        if (ticks.Length == 0)
        {
            return new LatencySummary(0, 0, 0);
        }

        Array.Sort(ticks);
        return new LatencySummary(ToMs(Percentile(ticks, 0.50)), ToMs(Percentile(ticks, 0.99)), ToMs(ticks[^1]));
    }

    // Nearest rank: the smallest value with at least p of the samples at or below it.
    private static long Percentile(long[] sorted, double p) => sorted[Math.Max(0, (int)Math.Ceiling(p * sorted.Length) - 1)];

    private static double ToMs(long ticks) => Math.Round(ticks * 1000.0 / Stopwatch.Frequency, 3);
}
