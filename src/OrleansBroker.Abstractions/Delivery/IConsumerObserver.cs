using Orleans.Concurrency;

namespace OrleansBroker.Delivery;

/// <summary>
/// The consumer side of push delivery, implemented by the client. A queue sends one batch at a
/// time to each consumer, and the next only after the previous call returned, so a consumer sees
/// deliveries in dispatch order; it never has more unsettled deliveries than its prefetch.
/// </summary>
[Alias("ob.IConsumerObserver")]
public interface IConsumerObserver : IGrainObserver
{
    /// <summary>Hands over deliveries; implementations queue them and return at once.</summary>
    [Alias("deliver")]
    Task Deliver(IReadOnlyList<Delivery> deliveries);

    /// <summary>
    /// The queue is deactivating gracefully (its silo shuts down) and hands its leases to its next activation: register again
    /// now rather than at the next renewal, so delivery resumes at once. Deliveries already received stay valid.
    /// </summary>
    [Alias("moving"), OneWay]
    Task Moving();
}
