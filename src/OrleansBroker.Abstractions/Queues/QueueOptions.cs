using OrleansBroker.Errors;

namespace OrleansBroker.Queues;

/// <summary>
/// Options fixed when a queue is created and persisted with it. Creating an existing queue with
/// equal options is a no-op; with different options it fails with
/// <see cref="BrokerErrorCode.QueueExistsWithOtherOptions"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("ob.queue-options")]
public sealed record QueueOptions
{
    /// <summary>Default lease (visibility timeout): 30 seconds.</summary>
    public static readonly TimeSpan DefaultLeaseDuration = TimeSpan.FromSeconds(30);

    /// <summary>Shortest lease: 1 second.</summary>
    public static readonly TimeSpan MinLeaseDuration = TimeSpan.FromSeconds(1);

    /// <summary>Longest lease, also the longest a lease may be extended to at once: 12 hours.</summary>
    public static readonly TimeSpan MaxLeaseDuration = TimeSpan.FromHours(12);

    /// <summary>Default most deliveries of one message before it is dead-lettered: 10.</summary>
    public const int DefaultMaxDeliveryAttempts = 10;

    /// <summary>Largest <see cref="MaxDeliveryAttempts"/>: 1000.</summary>
    public const int MaxMaxDeliveryAttempts = 1000;

    /// <summary>
    /// How long a delivered message stays leased to its consumer before it is delivered again,
    /// unless acked, nacked or extended. Default 30 s; from 1 s to 12 h.
    /// </summary>
    [Id(0)]
    public TimeSpan LeaseDuration { get; init; } = DefaultLeaseDuration;

    /// <summary>
    /// Deliveries of one message before it moves to <see cref="DeadLetterQueue"/>. Default 10;
    /// 1 to 1000, or 0 for unlimited (then no dead-letter queue is needed).
    /// </summary>
    [Id(1)]
    public int MaxDeliveryAttempts { get; init; } = DefaultMaxDeliveryAttempts;

    /// <summary>
    /// Where messages go after <see cref="MaxDeliveryAttempts"/> or an explicit dead-letter nack:
    /// <see langword="null"/> (default) means <c>&lt;queue&gt;.dlq</c>, created on first use with
    /// unlimited attempts; the empty string means none, allowed only with unlimited attempts so
    /// that nothing is ever silently dropped.
    /// </summary>
    [Id(2)]
    public string? DeadLetterQueue { get; init; }

    /// <summary>
    /// Backoff before a failed delivery is delivered again (nack with requeue, handler exception, lease
    /// expiry). Default <see cref="RetryPolicy.Immediate"/>. A message out of attempts is dead-lettered
    /// at once, without waiting.
    /// </summary>
    [Id(3)]
    public RetryPolicy Retry { get; init; } = RetryPolicy.Immediate;

    /// <summary>Default <see cref="DeduplicationWindow"/>: 10 minutes.</summary>
    public static readonly TimeSpan DefaultDeduplicationWindow = TimeSpan.FromMinutes(10);

    /// <summary>Longest <see cref="DeduplicationWindow"/>: 7 days.</summary>
    public static readonly TimeSpan MaxDeduplicationWindow = TimeSpan.FromDays(7);

    /// <summary>
    /// Time to live of messages published without their own (<see cref="Messages.BrokerMessage.TimeToLive"/>):
    /// <see langword="null"/> (default) for none; otherwise above 0 and at most <see cref="BrokerLimits.MaxTimeToLive"/>.
    /// </summary>
    [Id(4)]
    public TimeSpan? DefaultTimeToLive { get; init; }

    /// <summary>
    /// Whether an expired message goes to the dead-letter queue (with reason <c>expired</c>) instead of being dropped.
    /// Default false; true needs a dead-letter queue.
    /// </summary>
    [Id(5)]
    public bool DeadLetterExpired { get; init; }

    /// <summary>
    /// A publish whose producer-set message id was published to this queue less than this long ago is accepted
    /// once: the repeat stores nothing and returns the first receipt. Default 10 minutes; 0 turns it off; at most
    /// 7 days. Messages without a producer id are never deduplicated. Costs about 100 bytes of silo memory per id in the window.
    /// </summary>
    [Id(6)]
    public TimeSpan DeduplicationWindow { get; init; } = DefaultDeduplicationWindow;

    /// <summary>Most messages the queue holds (ready, delayed and in flight); <see langword="null"/> (default) for no limit. See <see cref="Overflow"/>.</summary>
    [Id(7)]
    public long? MaxLength { get; init; }

    /// <summary>Most body bytes the queue holds, all its messages together; <see langword="null"/> (default) for no limit. See <see cref="Overflow"/>.</summary>
    [Id(8)]
    public long? MaxBytes { get; init; }

    /// <summary>What a publish past <see cref="MaxLength"/> or <see cref="MaxBytes"/> does. Default <see cref="OverflowPolicy.RejectPublish"/>.</summary>
    [Id(9)]
    public OverflowPolicy Overflow { get; init; } = OverflowPolicy.RejectPublish;

    /// <summary>Largest <see cref="Partitions"/>: 64.</summary>
    public const int MaxPartitions = 64;

    /// <summary>
    /// How many partitions the queue is spread over, each its own grain (so its own silo, log and lock): 1 (default) to 64.
    /// A message with an ordering key, else with a producer-set id, goes to the partition of the key's hash (per-key order and
    /// deduplication hold); others are spread. Consumers receive from every partition. See <see cref="QueuePartitions"/>.
    /// <see cref="MaxLength"/> and <see cref="MaxBytes"/> apply per partition.
    /// </summary>
    [Id(10)]
    public int Partitions { get; init; } = 1;

    /// <summary>
    /// An HTTP endpoint the broker POSTs each message to, instead of waiting for consumers (see <see cref="PushEndpoint"/>);
    /// <see langword="null"/> (default) for none. Consumers may still consume the queue beside it.
    /// </summary>
    [Id(11)]
    public PushEndpoint? Push { get; init; }

    /// <summary>These options as queue info shows them: a push endpoint's secrets hidden.</summary>
    public QueueOptions Redacted() => Push is null ? this : this with { Push = Push.Redacted() };

    /// <summary>Whether <see cref="MaxLength"/> or <see cref="MaxBytes"/> is set.</summary>
    public bool HasLengthLimit => MaxLength is not null || MaxBytes is not null;

    /// <summary>
    /// Options of a dead-letter queue as the broker creates it with its first dead letter: unlimited attempts, no dead-letter
    /// queue of its own, no deduplication (two dead letters with one id are two failures worth seeing). Create one with these
    /// options to read it before anything has been dead-lettered.
    /// </summary>
    public static QueueOptions ForDeadLetterQueue() => new() { MaxDeliveryAttempts = 0, DeadLetterQueue = "", DeduplicationWindow = TimeSpan.Zero };

    /// <summary>The dead-letter queue name in force for <paramref name="queue"/>, or <see langword="null"/> for none.</summary>
    public string? ResolveDeadLetterQueue(string queue) => DeadLetterQueue switch
    {
        null => QueueName.DefaultDeadLetterQueue(queue),
        "" => null,
        var name => name,
    };

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) if out of range for <paramref name="queue"/>.</summary>
    public void Validate(string queue)
    {
        if (Retry is null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, "Retry is null; use RetryPolicy.Immediate for none.");
        }

        Retry.Validate();
        if (LeaseDuration < MinLeaseDuration || LeaseDuration > MaxLeaseDuration)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"LeaseDuration {LeaseDuration} is out of range; allowed is {MinLeaseDuration} to {MaxLeaseDuration}.");
        }

        if (MaxDeliveryAttempts < 0 || MaxDeliveryAttempts > MaxMaxDeliveryAttempts)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"MaxDeliveryAttempts {MaxDeliveryAttempts} is out of range; allowed is 1 to {MaxMaxDeliveryAttempts}, or 0 for unlimited.");
        }

        if (DefaultTimeToLive is { } ttl && (ttl <= TimeSpan.Zero || ttl > BrokerLimits.MaxTimeToLive))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"DefaultTimeToLive {ttl} is out of range; it must be above 0 and at most {BrokerLimits.MaxTimeToLive}, or null for none.");
        }

        if (DeduplicationWindow < TimeSpan.Zero || DeduplicationWindow > MaxDeduplicationWindow)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"DeduplicationWindow {DeduplicationWindow} is out of range 0 (off) to {MaxDeduplicationWindow}.");
        }

        if (MaxLength is < 1 || MaxBytes is < 1)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, "MaxLength and MaxBytes must be at least 1, or null for no limit.");
        }

        if (Partitions < 1 || Partitions > MaxPartitions)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Partitions {Partitions} is out of range 1 to {MaxPartitions}.");
        }

        if (!Enum.IsDefined(Overflow))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Unknown overflow policy {Overflow}.");
        }

        Push?.Validate(LeaseDuration);
        ValidateDeadLettering(queue);
    }

    /// <summary>Where messages go that leave undelivered: a valid dead-letter queue, or none only when nothing would be dropped.</summary>
    private void ValidateDeadLettering(string queue)
    {
        var dlq = ResolveDeadLetterQueue(queue);
        if (dlq is null && (DeadLetterExpired || Overflow == OverflowPolicy.DeadLetterOldest))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                "DeadLetterExpired and Overflow = DeadLetterOldest need a dead-letter queue; this queue has none (DeadLetterQueue = \"\").");
        }

        if (dlq is null)
        {
            if (MaxDeliveryAttempts != 0)
            {
                throw new BrokerException(BrokerErrorCode.InvalidOptions,
                    "A queue without a dead-letter queue must have unlimited delivery attempts (MaxDeliveryAttempts = 0), or messages would be dropped.");
            }

            return;
        }

        if (QueueName.Explain(dlq) is { } problem)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Dead-letter queue name is invalid: {problem} Set DeadLetterQueue to a shorter name.");
        }

        if (dlq == queue)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, "A queue cannot be its own dead-letter queue.");
        }
    }
}

/// <summary>What a queue at its <see cref="QueueOptions.MaxLength"/> or <see cref="QueueOptions.MaxBytes"/> does with a new publish. Values are persisted and never change.</summary>
public enum OverflowPolicy
{
    /// <summary>The publish fails with <see cref="BrokerErrorCode.QueueFull"/>; nothing of it is stored (the default).</summary>
    RejectPublish = 0,

    /// <summary>The publish is stored and the oldest messages not out for delivery are dropped to make room.</summary>
    DropOldest = 1,

    /// <summary>As <see cref="DropOldest"/>, but the oldest go to the dead-letter queue with reason <c>queue full</c>.</summary>
    DeadLetterOldest = 2,
}
