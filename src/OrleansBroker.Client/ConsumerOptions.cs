using OrleansBroker.Errors;

namespace OrleansBroker.Client;

/// <summary>How a consumer takes messages from a queue.</summary>
public sealed record ConsumerOptions
{
    /// <summary>Default prefetch: 100 unsettled deliveries per consumer.</summary>
    public const int DefaultPrefetch = 100;

    /// <summary>
    /// Most deliveries leased to this consumer and not yet settled (credit-based flow control, like
    /// AMQP basic.qos). Default 100; 1 to 10,000. With 1, deliveries arrive strictly in queue order.
    /// </summary>
    public int Prefetch { get; init; } = DefaultPrefetch;

    /// <summary>
    /// Handlers run at once (handler API only). Default 1; at most <see cref="Prefetch"/>. A handler's ack (or requeue)
    /// is sent when it returns and the worker goes on to its next delivery without waiting for the broker's answer.
    /// </summary>
    public int Concurrency { get; init; } = 1;

    /// <summary>Identifies the consumer to the queue; default a new GUID. Reuse one to resume after a client restart.</summary>
    public string? ConsumerId { get; init; }

    /// <summary>Default <see cref="MaxLeaseRenewal"/>: 5 minutes.</summary>
    public static readonly TimeSpan DefaultMaxLeaseRenewal = TimeSpan.FromMinutes(5);

    /// <summary>Longest <see cref="MaxLeaseRenewal"/>: 7 days.</summary>
    public static readonly TimeSpan MaxMaxLeaseRenewal = TimeSpan.FromDays(7);

    /// <summary>
    /// Handler API only: how long a running handler's lease is kept alive. Every half lease the client
    /// extends it by the queue's lease duration, for at most this long in all (default 5 minutes; 0 turns
    /// renewal off; at most 7 days). When the lease is lost anyway (this limit, or the broker ended it), that
    /// handler's <see cref="CancellationToken"/> is cancelled; the message will be delivered again and the
    /// consumer's other handlers go on.
    /// </summary>
    public TimeSpan MaxLeaseRenewal { get; init; } = DefaultMaxLeaseRenewal;

    /// <summary>
    /// Handler API: start each handler in delivery order, its synchronous part before the next one starts (the stream
    /// provider hands events on in queue order this way). Off by default: workers take deliveries as they free up.
    /// </summary>
    internal bool StartHandlersInOrder { get; init; }

    internal void Validate()
    {
        if (Prefetch < 1 || Prefetch > BrokerLimits.MaxPrefetch)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Prefetch {Prefetch} is out of range 1..{BrokerLimits.MaxPrefetch}.");
        }

        if (Concurrency < 1 || Concurrency > Prefetch)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Concurrency {Concurrency} is out of range 1..Prefetch ({Prefetch}).");
        }

        if (MaxLeaseRenewal < TimeSpan.Zero || MaxLeaseRenewal > MaxMaxLeaseRenewal)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"MaxLeaseRenewal {MaxLeaseRenewal} is out of range 0 (off) to {MaxMaxLeaseRenewal}.");
        }
    }
}
