using OrleansBroker.Queues;
using OrleansBroker.Server.Log;
using OrleansBroker.Server.Queues.Consumers;
using OrleansBroker.Server.Queues.Leases;
using OrleansBroker.Server.Queues.Ready;
using OrleansBroker.Server.Queues.Scheduling;
using OrleansBroker.Server.Telemetry;

namespace OrleansBroker.Server.Queues;

/// <summary>
/// What one queue (partition) holds in memory besides its log: where each live message stands (ready, waiting for a
/// time, leased, on its way out) and who consumes. Shared by the parts that decide (<see cref="Dispatch.Dispatcher"/>,
/// <see cref="Scheduling.Retries"/>, <see cref="Limits.TimeToLive"/>, ...); plain, single-threaded state, changed only on
/// the grain's scheduler. Every live message of the log is in exactly one place: ready (or in its group's line), delayed,
/// leased, or leaving.
/// </summary>
internal sealed class QueueState
{
    public QueueState(string name, MessageLog log, TimeProvider time)
    {
        Name = name;
        (Queue, Partition) = QueuePartitions.Parse(name);
        Log = log;
        Time = time;
        Ready = new ReadyIndex(Idle, () => HeldForGrowth);
    }

    /// <summary>The grain's name: the queue's, or a partition's (<c>queue#3</c>).</summary>
    public string Name { get; }

    /// <summary>The logical queue: the name without its partition suffix. Dead letters and their source header use it.</summary>
    public string Queue { get; }

    /// <summary>This grain's partition index; 0 for the queue's own grain.</summary>
    public int Partition { get; }

    public MessageLog Log { get; }

    public TimeProvider Time { get; }

    public QueueOptions Options => Log.Meta.Options;

    /// <summary>Ready messages in delivery order, and the message groups.</summary>
    public ReadyIndex Ready { get; }

    /// <summary>Messages waiting for a time: a scheduled delivery or a retry's backoff.</summary>
    public DelaySchedule Delayed { get; } = new();

    public LeaseTable Leases { get; } = new();

    public ConsumerSet Consumers { get; } = new();

    /// <summary>Messages on their way out (to the dead-letter queue, or redriven): never dispatched.</summary>
    public HashSet<long> Leaving { get; } = [];

    /// <summary>A partition added by growth whose keyed messages wait until its source has let go of their keys.</summary>
    public bool HeldForGrowth => Log.Meta.Created && Log.Meta.HeldForGrowth;

    /// <summary>Whether the message is neither leased nor on its way out: where it goes next is the queue's to decide.</summary>
    public bool IsIdle(long sequence) => !Leases.IsLeased(sequence) && !Leaving.Contains(sequence);

    /// <summary>The live entry of <paramref name="sequence"/> if it may be delivered now: not settled, on its way out or leased.</summary>
    public LogEntry? Idle(long sequence) => Log.TryGetEntry(sequence, out var entry) && IsIdle(sequence) ? entry : null;

    /// <summary>A delayed message leaving early (expired, dropped): no longer waiting for its time.</summary>
    public void StopWaiting(LogEntry entry)
    {
        if (Delayed.Remove(entry.Sequence))
        {
            entry.NotBefore = 0;
        }
    }

    /// <summary>The message has left the queue for good (acked, dropped, expired): settled in the log, its group's turn passed on.</summary>
    public void Remove(LogEntry entry)
    {
        Log.Settle(entry);
        Ready.Finish(entry);
    }

    /// <summary>Where the queue's events are counted for the silo's meter.</summary>
    public BrokerMetrics Metrics { get; set; } = BrokerMetrics.Unobserved;

    public void Count(Func<QueueCounters, QueueCounters> change) => Log.UpdateMeta(meta =>
    {
        var before = meta.Counters;
        meta.Counters = change(before);
        Metrics.Counted(before, meta.Counters);
    });
}
