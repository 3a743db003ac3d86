using OrleansBroker.Delivery;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Topics;

namespace OrleansBroker.Client;

/// <summary>
/// The broker as an application sees it. Thread-safe; register once per client (AddBrokerClient).
/// Every failure the broker reports is a <see cref="Errors.BrokerException"/>.
/// Convenience overloads (string bodies, ack/nack) are extension methods in <see cref="BrokerClientExtensions"/>.
/// </summary>
public interface IBrokerClient
{
    /// <summary>Creates a queue, or confirms it exists with the same options (default options when null).</summary>
    Task<QueueInfo> CreateQueueAsync(string queue, QueueOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Depth, consumers and counters of a queue.</summary>
    Task<QueueInfo> GetQueueInfoAsync(string queue, CancellationToken cancellationToken = default);

    /// <summary>Names of all queues, sorted.</summary>
    Task<IReadOnlyList<string>> ListQueuesAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Grows a queue to <paramref name="partitions"/> partitions in place: a multiple of its count, up to 64. Per-key order is
    /// kept (the new partitions hold keyed messages until the old partition has settled those keys) and producers and consumers
    /// follow without a restart. Idempotent; after a failure, call it again with the same count.
    /// </summary>
    Task<QueueInfo> GrowPartitionsAsync(string queue, int partitions, CancellationToken cancellationToken = default);

    /// <summary>Removes all ready messages of a queue; returns how many.</summary>
    Task<long> PurgeQueueAsync(string queue, CancellationToken cancellationToken = default);

    /// <summary>Deletes a queue and its messages.</summary>
    Task DeleteQueueAsync(string queue, CancellationToken cancellationToken = default);

    /// <summary>Publishes one message; completes when it is durably stored.</summary>
    Task<PublishReceipt> PublishAsync(string queue, BrokerMessage message, CancellationToken cancellationToken = default);

    /// <summary>Publishes up to 1000 messages, all or none; completes when they are durably stored.</summary>
    Task<IReadOnlyList<PublishReceipt>> PublishBatchAsync(string queue, IReadOnlyList<BrokerMessage> messages, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts a push consumer that runs <paramref name="handler"/> for each delivery, up to
    /// <see cref="ConsumerOptions.Concurrency"/> at once. A handler that returns acks the delivery;
    /// one that throws requeues it (it comes back with a higher attempt number, and goes to the
    /// dead-letter queue after the queue's max attempts); settle it yourself first to choose otherwise.
    /// Dispose the returned consumer to stop; deliveries not settled by then are requeued.
    /// </summary>
    Task<IBrokerConsumer> ConsumeAsync(string queue, Func<Delivery.Delivery, CancellationToken, Task> handler, ConsumerOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deliveries as an async stream (push underneath, no polling). Settle each one
    /// (<see cref="SettleAsync"/> or the Ack/Nack extensions); the stream ends when the token is cancelled.
    /// Leaving the loop unsubscribes and requeues what is unsettled: await your acks before you leave it.
    /// </summary>
    IAsyncEnumerable<Delivery.Delivery> ReadAllAsync(string queue, ConsumerOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Acks or nacks one delivery. <paramref name="reason"/> goes with a dead-letter nack; <paramref name="retryAfter"/>
    /// with a requeue overrides the queue's retry backoff for this message (0 = at once, at most 7 days).
    /// Throws <see cref="Errors.BrokerException"/> (LeaseLost) if its lease had ended.
    /// </summary>
    Task SettleAsync(Delivery.Delivery delivery, SettleKind kind, string? reason = null, TimeSpan? retryAfter = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Shows up to <paramref name="max"/> (1 to 1000) messages of a queue with a sequence above
    /// <paramref name="afterSequence"/>, in order, without delivering or changing them; dead-letter queues included.
    /// </summary>
    Task<IReadOnlyList<PeekedMessage>> PeekAsync(string queue, long afterSequence = 0, int max = 100, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends messages of the dead-letter queue <paramref name="deadLetterQueue"/> back to the queues they
    /// came from, attempts starting again (all ready ones when <paramref name="request"/> is null).
    /// </summary>
    Task<RedriveResult> RedriveAsync(string deadLetterQueue, RedriveRequest? request = null, CancellationToken cancellationToken = default);

    /// <summary>Creates a topic (default options: no retention), or confirms it exists with the same options.</summary>
    Task<TopicInfo> CreateTopicAsync(string topic, TopicOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>A topic's subscriptions and counters.</summary>
    Task<TopicInfo> GetTopicInfoAsync(string topic, CancellationToken cancellationToken = default);

    /// <summary>Names of all topics, sorted.</summary>
    Task<IReadOnlyList<string>> ListTopicsAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes a topic with its subscriptions and their queues.</summary>
    Task DeleteTopicAsync(string topic, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds a subscription (or confirms it exists with the same filter and options). Its messages are in the
    /// queue <c>&lt;topic&gt;/&lt;subscription&gt;</c>: consume, peek, redrive it as any queue.
    /// </summary>
    /// <param name="topic">The topic.</param>
    /// <param name="subscription">Name, filter, queue options and transform.</param>
    /// <param name="replayFrom">On a retaining topic: also replay retained messages published since then (<see cref="DateTimeOffset.MinValue"/> for all).</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    Task<TopicInfo> SubscribeAsync(string topic, Subscription subscription, DateTimeOffset? replayFrom = null, CancellationToken cancellationToken = default);

    /// <summary>Purges a subscription's queue and delivers again the retained messages published at or after <paramref name="to"/> (retaining topics).</summary>
    Task SeekAsync(string topic, string subscription, DateTimeOffset to, CancellationToken cancellationToken = default);

    /// <summary>Removes a subscription and deletes its queue.</summary>
    Task<TopicInfo> UnsubscribeAsync(string topic, string subscription, CancellationToken cancellationToken = default);

    /// <summary>Publishes to a topic; completes when every subscription the message matches holds it durably.</summary>
    Task<TopicReceipt> PublishToTopicAsync(string topic, BrokerMessage message, CancellationToken cancellationToken = default);

    /// <summary>Publishes up to 1000 messages to a topic; completes when every matching subscription holds its messages.</summary>
    Task<IReadOnlyList<TopicReceipt>> PublishBatchToTopicAsync(string topic, IReadOnlyList<BrokerMessage> messages, CancellationToken cancellationToken = default);

    /// <summary>Extends a delivery's lease to now + <paramref name="duration"/>; returns the new expiry.</summary>
    Task<DateTimeOffset> ExtendLeaseAsync(Delivery.Delivery delivery, TimeSpan duration, CancellationToken cancellationToken = default);
}
