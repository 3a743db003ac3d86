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

    /// <summary>Options of a dead-letter queue created on demand: unlimited attempts, no dead-letter queue of its own.</summary>
    public static QueueOptions ForDeadLetterQueue() => new() { MaxDeliveryAttempts = 0, DeadLetterQueue = "" };

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

        var dlq = ResolveDeadLetterQueue(queue);
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
