using Orleans.Concurrency;
using OrleansBroker.Messages;

namespace OrleansBroker.Queues;

/// <summary>
/// The consumer side of push delivery, implemented by the client. A queue sends one batch at a
/// time to each consumer, and the next only after the previous call returned, so a consumer sees
/// deliveries in dispatch order; it never has more unsettled deliveries than its prefetch.
/// </summary>
[Alias("ob.IConsumerObserver")]
public interface IConsumerObserver : IGrainObserver
{
    /// <summary>
    /// Hands over deliveries; implementations queue them and return at once. The queue waits 10 s for the answer (not the
    /// client's 30 s response timeout): a batch lost on the way, as when the gateway the client used goes away, comes back
    /// to the queue soon and goes to a consumer that can be reached.
    /// </summary>
    [Alias("deliver"), ResponseTimeout("00:00:10")]
    Task Deliver(IReadOnlyList<Delivery> deliveries);

    /// <summary>
    /// The queue is deactivating gracefully (its silo shuts down) and hands its leases to its next activation: register again
    /// now rather than at the next renewal, so delivery resumes at once. Deliveries already received stay valid.
    /// </summary>
    [Alias("moving"), OneWay]
    Task Moving();
}
