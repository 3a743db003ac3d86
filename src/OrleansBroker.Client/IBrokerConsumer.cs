namespace OrleansBroker.Client;

/// <summary>A running consumer. Dispose it to stop: it unregisters and its unsettled deliveries are requeued.</summary>
public interface IBrokerConsumer : IAsyncDisposable
{
    /// <summary>The queue consumed.</summary>
    string Queue { get; }

    /// <summary>The id the queue knows this consumer by.</summary>
    string ConsumerId { get; }

    /// <summary>Completes when the consumer stops: after dispose, or faulted when the queue is deleted.</summary>
    Task Completion { get; }
}
