using OrleansBroker.Messages;

namespace OrleansBroker.Server.Queues;

/// <summary>What a <see cref="QueueCore"/> asks of the grain that runs it: the cluster, a timer, and its lifecycle.</summary>
internal interface IQueueHost
{
    /// <summary>Other grains: the queue's partitions.</summary>
    IGrainFactory Grains { get; }

    /// <summary>Stores dead letters in the dead-letter queue <paramref name="queue"/> (created on first use).</summary>
    Task StoreDeadLettersAsync(string queue, IReadOnlyList<BrokerMessage> letters);

    /// <summary>Stores redriven messages back in their source queue <paramref name="queue"/>.</summary>
    Task<IReadOnlyList<PublishReceipt>> StoreRedrivenAsync(string queue, IReadOnlyList<BrokerMessage> messages);

    /// <summary>Whether the silo is shutting down (a failed send to a consumer is then not the consumer's fault).</summary>
    bool SiloTerminating { get; }

    /// <summary>Sets the one-shot wake timer to fire after <paramref name="delay"/>; it calls <see cref="QueueCore.Wake"/>.</summary>
    void WakeIn(TimeSpan delay);

    /// <summary>Deliveries went out at <paramref name="now"/>: the durable wake-up must be on.</summary>
    void DeliveriesOut(DateTimeOffset now);

    /// <summary>The log was changed by another writer: this activation steps down, and the next call loads the queue again.</summary>
    void StepDown();
}
