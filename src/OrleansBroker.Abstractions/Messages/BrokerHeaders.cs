namespace OrleansBroker.Messages;

/// <summary>Header names the broker itself sets. Application headers must not start with <c>x-broker-</c>.</summary>
public static class BrokerHeaders
{
    /// <summary>Prefix reserved for broker-set headers.</summary>
    public const string ReservedPrefix = "x-broker-";

    /// <summary>On a dead-lettered message: why it was dead-lettered.</summary>
    public const string DeadLetterReason = "x-broker-dlq-reason";

    /// <summary>On a dead-lettered message: the queue it came from.</summary>
    public const string SourceQueue = "x-broker-source-queue";

    /// <summary>On a dead-lettered message: how many deliveries were attempted.</summary>
    public const string Attempts = "x-broker-attempts";

    /// <summary>On a dead-lettered message: when it was first enqueued in its source queue (ISO 8601, UTC).</summary>
    public const string OriginalEnqueuedAt = "x-broker-enqueued-at";
}
