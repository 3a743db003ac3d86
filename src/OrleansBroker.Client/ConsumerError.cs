using OrleansBroker.Messages;

namespace OrleansBroker.Client;

/// <summary>Where a consumer met a failure it reports to its error handler.</summary>
public enum ConsumerErrorSource
{
    /// <summary>The handler threw; the delivery was abandoned and comes again (or is dead-lettered after max attempts).</summary>
    Handler,

    /// <summary>Completing or abandoning a delivery failed; it comes again when its lease ends.</summary>
    Settle,

    /// <summary>Renewing a running handler's lease failed; tried again while the lease runs.</summary>
    RenewLease,

    /// <summary>The handler's lease was lost while it ran (its token is cancelled); the message comes again.</summary>
    LeaseLost,

    /// <summary>The consumer stopped: its queue was deleted. <see cref="IBrokerConsumer.Completion"/> carries the same error.</summary>
    Consumer,
}

/// <summary>
/// A failure a running consumer reports to the error handler given to <see cref="IBrokerClient.ConsumeAsync"/> (Service Bus:
/// <c>ProcessErrorAsync</c>). The consumer goes on after each, except <see cref="ConsumerErrorSource.Consumer"/>.
/// An error handler that throws is logged and does not stop the consumer.
/// </summary>
/// <param name="Queue">The queue consumed.</param>
/// <param name="Source">Where it happened.</param>
/// <param name="Exception">What went wrong.</param>
/// <param name="Delivery">The delivery concerned, when there is one.</param>
public sealed record ConsumerError(string Queue, ConsumerErrorSource Source, Exception Exception, Delivery? Delivery);
