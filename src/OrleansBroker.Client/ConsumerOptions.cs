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

    /// <summary>Handlers run at once (handler API only). Default 1; at most <see cref="Prefetch"/>.</summary>
    public int Concurrency { get; init; } = 1;

    /// <summary>Identifies the consumer to the queue; default a new GUID. Reuse one to resume after a client restart.</summary>
    public string? ConsumerId { get; init; }

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
    }
}
