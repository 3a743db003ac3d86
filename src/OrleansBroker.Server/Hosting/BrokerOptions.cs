using OrleansBroker.Errors;

namespace OrleansBroker.Server.Hosting;

/// <summary>
/// Silo-wide broker settings, bound from the <c>Broker</c> configuration section (environment:
/// <c>Broker__MaxMessageBytes</c>, ...), or set with <c>AddBroker(options => ...)</c> or <c>Configure&lt;BrokerOptions&gt;</c>.
/// Defaults are the values written here; <see cref="Validate"/> runs when the silo starts. Where messages are stored is
/// chosen apart: <see cref="BrokerStorageExtensions"/>.
/// </summary>
public sealed class BrokerOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = BrokerDefaults.SectionName;

    /// <summary>Name of the grain-storage provider the broker registers and uses.</summary>
    public const string StorageProviderName = "broker";

    /// <summary>
    /// The same storage as <see cref="StorageProviderName"/> for grains whose state Orleans loads (<c>[PersistentState]</c>):
    /// its failures reach callers as broker errors (see <c>ClientSafeGrainStorage</c>). Records do not depend on the name.
    /// </summary>
    internal const string StateStorageProviderName = "broker-state";

    /// <summary>Largest message body accepted. Default 1 MiB; at most 16 MiB.</summary>
    public int MaxMessageBytes { get; set; } = BrokerLimits.DefaultMaxMessageBytes;

    /// <summary>A log commit stops taking more publishes once its segment holds this many bytes. Default 1 MiB.</summary>
    public int SegmentMaxBytes { get; set; } = 1024 * 1024;

    /// <summary>A log commit stops taking more publishes once its segment holds this many messages. Default 2000.</summary>
    public int SegmentMaxMessages { get; set; } = 2000;

    /// <summary>
    /// Bytes of message bodies one queue keeps in memory. A deeper queue keeps only a small index entry
    /// per message (about 100 bytes) and reads the bodies furthest from delivery back from storage when
    /// delivery reaches them. Default 16 MiB; at least <see cref="SegmentMaxBytes"/>.
    /// </summary>
    public long ResidentBytesPerQueue { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// How long a queue's commit that holds no publishes (acks, nacks, attempt counts) waits for a publish to share
    /// its storage write, so that a queue under steady publish and consume pays one fsync where it would pay two.
    /// Default 1 ms; 0 commits at once; at most 1 s. A publish never waits, and an ack still returns only once durable.
    /// </summary>
    public TimeSpan CommitLinger { get; set; } = TimeSpan.FromMilliseconds(1);

    /// <summary>How often consumers renew their registration. Default 10 s; a consumer silent for three intervals is dropped.</summary>
    public TimeSpan ConsumerRenewInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Most queue partitions one silo reports per-queue metrics for (ready, unacked, consumers, counters...): all active ones
    /// up to this, else the deepest, then the busiest. Silo-wide counters cover every queue. Default 1000; 0 for none.
    /// </summary>
    public int MetricsMaxQueueSeries { get; set; } = 1000;

    /// <summary>
    /// How long a queue partition that gets no call (no publish, receive, settle, consumer renewal, administration) stays in
    /// memory before it is deactivated. Its messages stay stored; the next call activates it again, and a queue with
    /// deliveries out comes back by its reminder (<see cref="ReminderPeriod"/>). Lower it where many queues are used now and
    /// then, so that memory goes to the busy ones. Default 15 min (Orleans' own default); 10 s to 7 days.
    /// </summary>
    public TimeSpan QueueIdleTime { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How often a queue checks for expired leases. Default 1 s: a lease ends at most this late.</summary>
    public TimeSpan LeaseCheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Period of the reminder a queue holds while deliveries are outstanding: after a deactivation or
    /// a silo restart it comes back within this time and redelivers or dead-letters what expired.
    /// Default 1 min (Orleans' minimum reminder period; a shorter one lowers that minimum on this silo).
    /// </summary>
    public TimeSpan ReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) naming the first bad setting.</summary>
    public void Validate()
    {
        ValidateQueues();
        if (ReminderPeriod < TimeSpan.FromSeconds(1))
        {
            Fail("Broker:ReminderPeriod must be at least 1 s.");
        }
    }

    private void ValidateQueues()
    {
        if (MaxMessageBytes < 1 || MaxMessageBytes > BrokerLimits.AbsoluteMaxMessageBytes)
        {
            Fail($"Broker:MaxMessageBytes {MaxMessageBytes} is out of range 1..{BrokerLimits.AbsoluteMaxMessageBytes}.");
        }

        if (SegmentMaxBytes < 1024 || SegmentMaxMessages < 1)
        {
            Fail("Broker:SegmentMaxBytes must be at least 1024 and Broker:SegmentMaxMessages at least 1.");
        }

        if (ResidentBytesPerQueue < SegmentMaxBytes)
        {
            Fail($"Broker:ResidentBytesPerQueue {ResidentBytesPerQueue} must be at least Broker:SegmentMaxBytes ({SegmentMaxBytes}).");
        }

        if (CommitLinger < TimeSpan.Zero || CommitLinger > TimeSpan.FromSeconds(1))
        {
            Fail($"Broker:CommitLinger {CommitLinger} is out of range 0..00:00:01.");
        }

        if (QueueIdleTime < TimeSpan.FromSeconds(10) || QueueIdleTime > TimeSpan.FromDays(7))
        {
            Fail($"Broker:QueueIdleTime {QueueIdleTime} is out of range 00:00:10..7.00:00:00.");
        }

        if (MetricsMaxQueueSeries < 0)
        {
            Fail($"Broker:MetricsMaxQueueSeries must be 0 or more (it is {MetricsMaxQueueSeries}).");
        }

        if (ConsumerRenewInterval < TimeSpan.FromMilliseconds(100) || LeaseCheckInterval < TimeSpan.FromMilliseconds(10))
        {
            Fail("Broker:ConsumerRenewInterval must be at least 100 ms and Broker:LeaseCheckInterval at least 10 ms.");
        }
    }

    private static void Fail(string message) => throw new BrokerException(BrokerErrorCode.InvalidOptions, message);
}
