using OrleansBroker.Errors;
using OrleansBroker.Queues;

namespace OrleansBroker.Server.Queues.Leases;

/// <summary>What a settle call must be before any of it is applied: a refused call leaves every delivery as it was.</summary>
internal static class SettleRequests
{
    public static void Validate(IReadOnlyList<Settlement> settlements)
    {
        ArgumentNullException.ThrowIfNull(settlements);
        foreach (var settlement in settlements)
        {
            if (!Enum.IsDefined(settlement.Kind))
            {
                throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Unknown settle kind {settlement.Kind}; nothing in this call was settled.");
            }

            if (settlement.Delay is { } delay && (delay < TimeSpan.Zero || delay > RetryPolicy.MaxRetryDelay))
            {
                throw new BrokerException(BrokerErrorCode.InvalidOptions,
                    $"Retry delay {delay} is out of range 0..{RetryPolicy.MaxRetryDelay}; nothing in this call was settled.");
            }
        }
    }
}
