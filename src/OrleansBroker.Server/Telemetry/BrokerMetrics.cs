using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Options;
using OrleansBroker.Identity;
using OrleansBroker.Queues;
using OrleansBroker.Server.Hosting;

namespace OrleansBroker.Server.Telemetry;

/// <summary>Why a message went to its dead-letter queue, as the <c>reason</c> label of the dead-lettered counter says it.</summary>
internal enum DeadLetterCause
{
    /// <summary>Its delivery attempts ran out (RabbitMQ: <c>delivery_limit</c>).</summary>
    MaxAttempts,

    /// <summary>Its time to live ended (RabbitMQ: <c>expired</c>).</summary>
    Expired,

    /// <summary>The queue was full and its overflow policy dead-letters the oldest (RabbitMQ: <c>maxlen</c>).</summary>
    Overflow,

    /// <summary>A consumer dead-lettered it (RabbitMQ: <c>rejected</c>).</summary>
    Rejected,

    /// <summary>A subscription's transform failed on it.</summary>
    Transform,
}

/// <summary>
/// The silo's meter (<see cref="BrokerTelemetry.MeterName"/>). Silo-wide counters move with events on this silo since it
/// started; per-queue series come from the snapshot each active queue activation leaves here on its timer (at most every
/// <see cref="BrokerOptions.LeaseCheckInterval"/>, and last before a quiet queue's timer stops), for at most <see cref="BrokerOptions.MetricsMaxQueueSeries"/> queue
/// partitions: the deepest, then the busiest. Nothing is measured while no listener is attached.
/// </summary>
internal sealed class BrokerMetrics
{
    /// <summary>For parts built without a silo (unit tests): counts nothing.</summary>
    public static readonly BrokerMetrics Unobserved = new();

    private readonly ConcurrentDictionary<string, QueueSnapshot> _queues = new(StringComparer.Ordinal);
    private readonly int _maxQueueSeries;
    private readonly Counter<long>? _published;
    private readonly Counter<long>? _delivered;
    private readonly Counter<long>? _redelivered;
    private readonly Counter<long>? _acked;
    private readonly Counter<long>? _abandoned;
    private readonly Counter<long>? _deadLettered;
    private readonly Counter<long>? _expired;
    private readonly Counter<long>? _dropped;
    private readonly Counter<long>? _purged;
    private readonly Histogram<double>? _publishDuration;
    private readonly Histogram<double>? _commitDuration;
    private readonly Histogram<long>? _commitMessages;
    private readonly ObservableGauge<long>? _activeQueues;
    private (long At, List<(KeyValuePair<string, object?>[] Tags, QueueSnapshot Snapshot)> Queues) _shown = (0, []);
    private int _ticking;

    public BrokerMetrics(IMeterFactory meters, IOptions<BrokerOptions> options)
    {
        _maxQueueSeries = options.Value.MetricsMaxQueueSeries;
        var meter = meters.Create(BrokerTelemetry.MeterName);
        Counter<long> Messages(string what, string description) => meter.CreateCounter<long>($"obroker.messages.{what}", "{message}", description);
        _published = Messages("published", "Messages stored in a queue of this silo (published, routed from a topic, redriven or dead-lettered into it).");
        _delivered = Messages("delivered", "Deliveries to consumers and receives, redeliveries included.");
        _redelivered = Messages("redelivered", "Deliveries of a message delivered before.");
        _acked = Messages("acked", "Messages completed by their consumer.");
        _abandoned = Messages("abandoned", "Deliveries given back by their consumer to be retried.");
        _deadLettered = Messages("dead_lettered", "Messages moved to a dead-letter queue, by reason: max-attempts, expired, overflow, rejected, transform.");
        _expired = Messages("expired", "Messages whose time to live ended (dropped or dead-lettered).");
        _dropped = Messages("dropped", "Messages removed by a queue's overflow policy.");
        _purged = Messages("purged", "Messages removed by a purge.");
        _publishDuration = meter.CreateHistogram<double>("obroker.publish.duration", "s", "From a publish reaching its queue to the message being durable.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });
        _commitDuration = meter.CreateHistogram<double>("obroker.storage.commit.duration", "s", "One group commit of a queue's log to storage.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5] });
        _commitMessages = meter.CreateHistogram<long>("obroker.storage.commit.messages", "{message}", "New messages stored by one group commit (its batching made visible).",
            advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000] });

        QueueGauge(meter, "obroker.queue.messages.ready", "Messages waiting for a consumer (RabbitMQ: messages_ready).", s => s.Info.Ready - s.Info.Delayed);
        QueueGauge(meter, "obroker.queue.messages.unacked", "Messages delivered and not yet settled (RabbitMQ: messages_unacked).", s => s.Info.InFlight);
        QueueGauge(meter, "obroker.queue.messages.scheduled", "Messages waiting for a retry or scheduled time.", s => s.Info.Delayed);
        QueueGauge(meter, "obroker.queue.messages", "All messages held: ready, scheduled and unacked (RabbitMQ: messages).", s => s.Info.Depth);
        QueueGauge(meter, "obroker.queue.consumers", "Consumers registered (RabbitMQ: consumers).", s => s.Info.Consumers, "{consumer}");
        QueueGauge(meter, "obroker.queue.messages.bytes", "Body bytes held (RabbitMQ: messages_bytes).", s => s.Info.Bytes, "By");
        meter.CreateObservableGauge("obroker.queue.head_message.age", () => HeadAges(), "s",
            "Age of the message first in delivery order: the oldest ready one (RabbitMQ: head_message_timestamp, as an age). Absent while none is ready.");
        QueueCounter(meter, "published", "Messages stored in the queue since it was created.", c => c.Published);
        QueueCounter(meter, "delivered", "Deliveries since the queue was created.", c => c.Delivered);
        QueueCounter(meter, "redelivered", "Redeliveries since the queue was created.", c => c.Redelivered);
        QueueCounter(meter, "acked", "Messages completed since the queue was created.", c => c.Acked);
        QueueCounter(meter, "dead_lettered", "Messages dead-lettered since the queue was created.", c => c.DeadLettered);
        QueueCounter(meter, "expired", "Messages expired since the queue was created.", c => c.Expired);
        QueueCounter(meter, "dropped", "Messages dropped by overflow since the queue was created.", c => c.Dropped);
        _activeQueues = meter.CreateObservableGauge("obroker.queues.active", () => (long)_queues.Count, "{queue}", "Queue partitions active on this silo (those with per-queue series are capped).");
        meter.CreateObservableGauge("obroker.queues.ticking", () => (long)Volatile.Read(ref _ticking), "{queue}",
            "Active queue partitions whose timer runs: those with work in hand (deliveries out, messages waiting for a time, consumers). The others are quiet until their next call.");
    }

    private BrokerMetrics() => _maxQueueSeries = 0;

    /// <summary>Whether a listener (the silo's meter provider) reads the per-queue series: queues leave snapshots only then.</summary>
    public bool Observed => _activeQueues?.Enabled == true;

    /// <summary>A queue activation's latest figures; <paramref name="key"/> is its grain name (<c>queue</c> or <c>queue~i</c>).</summary>
    public void Update(string key, QueueSnapshot snapshot)
    {
        if (_published is not null)
        {
            _queues[key] = snapshot;
        }
    }

    /// <summary>Queue partition activations on this silo whose timer runs now.</summary>
    public int TickingQueues => Volatile.Read(ref _ticking);

    /// <summary>A queue activation's timer started (<paramref name="running"/>) or stopped.</summary>
    public void Ticking(bool running) => Interlocked.Add(ref _ticking, running ? 1 : -1);

    /// <summary>The activation ended (deactivated or moved): its series stop here.</summary>
    public void Remove(string key) => _queues.TryRemove(key, out _);

    /// <summary>Counts what a change of a queue's lifetime counters says happened (everything but publishes).</summary>
    public void Counted(QueueCounters before, QueueCounters after)
    {
        if (_published is null)
        {
            return;
        }

        Add(_delivered!, after.Delivered - before.Delivered);
        Add(_redelivered!, after.Redelivered - before.Redelivered);
        Add(_acked!, after.Acked - before.Acked);
        Add(_expired!, after.Expired - before.Expired);
        Add(_dropped!, after.Dropped - before.Dropped);
        Add(_purged!, after.Purged - before.Purged);
    }

    public void Published(long count, long startTimestamp)
    {
        if (_published is null)
        {
            return;
        }

        Add(_published, count);
        _publishDuration!.Record(Stopwatch.GetElapsedTime(startTimestamp).TotalSeconds);
    }

    public void Abandoned(long count) => Add(_abandoned, count);

    public void DeadLettered(DeadLetterCause cause, long count)
    {
        if (_deadLettered is not null && count > 0)
        {
            _deadLettered.Add(count, new KeyValuePair<string, object?>("reason", Label(cause)));
        }
    }

    public void Committed(TimeSpan duration, int messages)
    {
        if (_commitDuration is not null)
        {
            _commitDuration.Record(duration.TotalSeconds);
            if (messages > 0)
            {
                _commitMessages!.Record(messages);
            }
        }
    }

    public static string Label(DeadLetterCause cause) => cause switch
    {
        DeadLetterCause.MaxAttempts => "max-attempts",
        DeadLetterCause.Expired => "expired",
        DeadLetterCause.Overflow => "overflow",
        DeadLetterCause.Rejected => "rejected",
        _ => "transform",
    };

    private static void Add(Counter<long>? counter, long count)
    {
        if (counter is not null && count > 0)
        {
            counter.Add(count);
        }
    }

    private void QueueGauge(Meter meter, string name, string description, Func<QueueSnapshot, long> value, string unit = "{message}") =>
        meter.CreateObservableGauge(name, () => QueueMeasurements(value), unit, description);

    private void QueueCounter(Meter meter, string what, string description, Func<QueueCounters, long> value) =>
        meter.CreateObservableCounter($"obroker.queue.messages.{what}", () => QueueMeasurements(s => value(s.Info.Counters)), "{message}", description);

    private IEnumerable<Measurement<T>> QueueMeasurements<T>(Func<QueueSnapshot, T> value)
        where T : struct
    {
        foreach (var (tags, snapshot) in Shown())
        {
            yield return new Measurement<T>(value(snapshot), tags);
        }
    }

    private IEnumerable<Measurement<double>> HeadAges()
    {
        // A quiet queue leaves no new snapshot while nothing happens to it, but its head message keeps ageing.
        foreach (var measurement in QueueMeasurements(s => s.HeadAge is { } age ? age + Stopwatch.GetElapsedTime(s.TakenAt).TotalSeconds : -1))
        {
            if (measurement.Value >= 0)
            {
                yield return measurement;
            }
        }
    }

    /// <summary>
    /// The queue partitions with series, with their labels: all active ones up to the cap, else the deepest, then the busiest.
    /// Chosen once per collection, so every instrument of one scrape reports the same partitions.
    /// </summary>
    private List<(KeyValuePair<string, object?>[] Tags, QueueSnapshot Snapshot)> Shown()
    {
        var now = Stopwatch.GetTimestamp();
        var shown = _shown;
        if (Stopwatch.GetElapsedTime(shown.At, now) < TimeSpan.FromMilliseconds(500))
        {
            return shown.Queues;
        }

        IEnumerable<KeyValuePair<string, QueueSnapshot>> all = _queues;
        if (_queues.Count > _maxQueueSeries)
        {
            all = all.OrderByDescending(q => q.Value.Info.Depth).ThenByDescending(q => q.Value.Info.Counters.Published).Take(_maxQueueSeries);
        }

        var chosen = all.Select(q => (Tags(q.Key), q.Value)).ToList();
        _shown = (now, chosen);
        return chosen;
    }

    /// <summary>The labels of a queue partition's series, from its grain name (<c>tenant@queue~i</c>).</summary>
    private static KeyValuePair<string, object?>[] Tags(string key)
    {
        var (qualified, partition) = QueuePartitions.Parse(key);
        var (tenant, queue) = Tenants.Split(qualified);
        return [new("tenant", tenant), new("queue", queue), new("partition", partition)];
    }
}

/// <summary>
/// A queue activation's figures as its timer last saw them, and the age in seconds of the message first in delivery order
/// (null: none known) at <see cref="TakenAt"/>.
/// </summary>
internal sealed record QueueSnapshot(QueueInfo Info, double? HeadAge = null)
{
    /// <summary>When the snapshot was taken (<see cref="Stopwatch.GetTimestamp"/>).</summary>
    public long TakenAt { get; init; } = Stopwatch.GetTimestamp();
}
