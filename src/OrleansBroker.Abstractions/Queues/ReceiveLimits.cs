using OrleansBroker.Errors;

namespace OrleansBroker.Queues;

/// <summary>The bounds of a pull receive (<see cref="IQueueGrain.Receive"/>).</summary>
public static class ReceiveLimits
{
    /// <summary>Most messages one receive returns: 1000.</summary>
    public const int MaxMessages = BrokerLimits.MaxBatchCount;

    /// <summary>Longest a receive waits for its first message: 20 seconds (as SQS), well inside a grain call's timeout.</summary>
    public static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(20);

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) for a receive out of bounds.</summary>
    public static void Validate(int maxMessages, TimeSpan maxWait, TimeSpan leaseDuration)
    {
        if (maxMessages < 1 || maxMessages > MaxMessages)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"A receive takes 1 to {MaxMessages} messages; {maxMessages} was asked.");
        }

        if (maxWait < TimeSpan.Zero || maxWait > MaxWait)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"A receive waits 0 to {MaxWait.TotalSeconds:0} seconds; {maxWait} was asked.");
        }

        if (leaseDuration < QueueOptions.MinLeaseDuration || leaseDuration > QueueOptions.MaxLeaseDuration)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"A receive's lease lasts {QueueOptions.MinLeaseDuration} to {QueueOptions.MaxLeaseDuration}; {leaseDuration} was asked.");
        }
    }
}
