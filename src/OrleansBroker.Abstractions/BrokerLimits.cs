namespace OrleansBroker;

/// <summary>
/// Fixed limits of the broker's wire contracts. Configurable limits (message size, lease length,
/// delivery attempts, prefetch) live in their options types with their defaults.
/// </summary>
public static class BrokerLimits
{
    /// <summary>Longest queue name: 200 characters.</summary>
    public const int MaxNameLength = 200;

    /// <summary>Longest message id: 128 characters.</summary>
    public const int MaxMessageIdLength = 128;

    /// <summary>Most headers on one message: 64.</summary>
    public const int MaxHeaderCount = 64;

    /// <summary>Longest header name: 128 characters.</summary>
    public const int MaxHeaderNameLength = 128;

    /// <summary>Most bytes (UTF-8) of all header names and values of one message together: 16 KiB.</summary>
    public const int MaxHeaderBytes = 16 * 1024;

    /// <summary>Longest routing key: 256 characters.</summary>
    public const int MaxRoutingKeyLength = 256;

    /// <summary>Longest content type: 128 characters.</summary>
    public const int MaxContentTypeLength = 128;

    /// <summary>Most messages in one publish batch: 1000.</summary>
    public const int MaxBatchCount = 1000;

    /// <summary>Default most body bytes of one message, 1 MiB; a silo may set another (<c>Broker:MaxMessageBytes</c>).</summary>
    public const int DefaultMaxMessageBytes = 1024 * 1024;

    /// <summary>Largest body any silo accepts, whatever it is configured to: 16 MiB.</summary>
    public const int AbsoluteMaxMessageBytes = 16 * 1024 * 1024;

    /// <summary>Highest message priority: 9, so 10 levels (0 to 9, 0 the default and lowest).</summary>
    public const int MaxPriority = 9;

    /// <summary>Longest ordering key: 128 characters.</summary>
    public const int MaxOrderingKeyLength = 128;

    /// <summary>Furthest ahead a message may be scheduled (<see cref="Messages.BrokerMessage.DeliverAt"/>, <see cref="Messages.BrokerMessage.Delay"/>): 365 days.</summary>
    public static readonly TimeSpan MaxScheduleDelay = TimeSpan.FromDays(365);

    /// <summary>Longest time to live, per message or queue default: 365 days.</summary>
    public static readonly TimeSpan MaxTimeToLive = TimeSpan.FromDays(365);

    /// <summary>Largest prefetch (messages leased to one consumer at once): 10,000.</summary>
    public const int MaxPrefetch = 10_000;
}
