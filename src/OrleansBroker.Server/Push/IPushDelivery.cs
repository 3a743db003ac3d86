using OrleansBroker.Queues;

namespace OrleansBroker.Server.Push;

/// <summary>
/// The silo's push delivery (added by <c>AddBrokerPush</c>): a queue with a <see cref="QueueOptions.Push"/> endpoint hands
/// itself over when it activates on a silo, partition 0 for a partitioned queue, and takes itself back when it deactivates or
/// is deleted. The pushing therefore runs wherever the queue runs, and after a crash where the queue comes back.
/// </summary>
internal interface IPushDelivery
{
    /// <summary>Throws <c>InvalidOptions</c> when this silo may not push to the endpoint's host (<c>Broker:Push:AllowedHosts</c>).</summary>
    void CheckAllowed(PushEndpoint endpoint);

    /// <summary>Starts pushing <paramref name="queue"/> (idempotent; a changed endpoint restarts it).</summary>
    void Start(string queue, QueueOptions options);

    /// <summary>
    /// Stops pushing <paramref name="queue"/> without waiting: its consumer gives back what it holds in the background (a
    /// deactivating queue cannot wait for that, since giving back is a call to the queue itself).
    /// </summary>
    void Stop(string queue);

    /// <summary>What pushing <paramref name="queue"/> is doing here, or null when this silo does not push it.</summary>
    PushStatus? Status(string queue);
}
