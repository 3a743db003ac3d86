using System.Collections.Concurrent;
using OrleansBroker.Queues;

namespace OrleansBroker.Http.Api;

/// <summary>
/// Message rates of queues, from the counters successive requests read (as a console or dashboard polls): each reading is
/// compared with the one this silo kept from at least a second before (and at most five minutes), so a list or overview
/// polled every few seconds shows rates over that interval; the first reading has none. One per silo; thread-safe.
/// </summary>
internal sealed class QueueRates(TimeProvider time)
{
    private const int MaxQueues = 100_000;
    private static readonly TimeSpan MinInterval = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan MaxInterval = TimeSpan.FromMinutes(5);

    private readonly ConcurrentDictionary<string, (DateTimeOffset At, QueueCounters Counters)> _readings = new(StringComparer.Ordinal);

    /// <summary>The rates since the kept reading of <paramref name="info"/>'s queue, or null when there is none old enough.</summary>
    public MessageRates? Observe(QueueInfo info)
    {
        var now = time.GetUtcNow();
        if (_readings.TryGetValue(info.Name, out var kept) && now - kept.At is var interval && interval >= MinInterval && interval <= MaxInterval)
        {
            _readings[info.Name] = (now, info.Counters);
            var seconds = interval.TotalSeconds;
            double Per(long now, long then) => Math.Round(Math.Max(0, now - then) / seconds, 1);
            return new MessageRates(Per(info.Counters.Published, kept.Counters.Published), Per(info.Counters.Delivered, kept.Counters.Delivered),
                Per(info.Counters.Acked, kept.Counters.Acked), Per(info.Counters.DeadLettered, kept.Counters.DeadLettered));
        }

        if (kept == default || now - kept.At > MaxInterval)
        {
            if (_readings.Count >= MaxQueues)
            {
                _readings.Clear();
            }

            _readings[info.Name] = (now, info.Counters);
        }

        return null;
    }
}

/// <summary>Messages per second over the interval since the previous reading.</summary>
internal sealed record MessageRates(double Published, double Delivered, double Acked, double DeadLettered)
{
    public static MessageRates Sum(IEnumerable<MessageRates> rates) =>
        rates.Aggregate(new MessageRates(0, 0, 0, 0), (a, b) => new(a.Published + b.Published, a.Delivered + b.Delivered, a.Acked + b.Acked, a.DeadLettered + b.DeadLettered));
}

/// <summary>A queue as lists and details show it: its figures (names as the tenant's own) and its rates when known.</summary>
internal sealed record QueueSummary(
    string Name,
    QueueOptions Options,
    long Ready,
    long InFlight,
    long Delayed,
    long Depth,
    long Bytes,
    int Consumers,
    QueueCounters Counters,
    MessageRates? Rates,
    DateTimeOffset CreatedAt,
    IReadOnlyList<QueuePartitionInfo>? Partitions,
    string? PublishesRefused,
    PushStatus? Push)
{
    /// <summary>Messages in the queue's dead-letter queue (0 when it has none yet); in paged lists only, else null.</summary>
    public long? DeadLetterDepth { get; init; }

    /// <summary>False in lists for a queue not in memory: its figures are as it last stored them (see <see cref="QueueInfo.InMemory"/>).</summary>
    public bool InMemory { get; init; } = true;

    public static QueueSummary Of(QueueInfo info, QueueRates rates)
    {
        var shown = TenantNames.Own(info);
        return new QueueSummary(shown.Name, shown.Options, info.Ready, info.InFlight, info.Delayed, info.Depth, info.Bytes, info.Consumers, info.Counters,
            rates.Observe(info), info.CreatedAt, shown.Partitions, info.PublishesRefused, info.Push)
        { InMemory = info.InMemory };
    }
}
