using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Topics;

namespace OrleansBroker.Client;

/// <summary>
/// The broker's data plane: publish, consume, settle, peek. Thread-safe; one per client, registered with
/// <c>AddBrokerClient()</c> beside <see cref="IBrokerAdministrationClient"/> (queues and topics are created and managed there).
/// Every failure the broker reports is a <see cref="Errors.BrokerException"/>.
/// </summary>
/// <remarks>
/// Cancellation: a publish whose token is cancelled before it is sent is not sent, and throws <see cref="OperationCanceledException"/>.
/// Once sent it cannot be called back: the await ends with <see cref="OperationCanceledException"/> at once and the message
/// may be stored. To know,
/// publish with a <see cref="BrokerMessage.Id"/> and publish it again: within the queue's dedup window the broker
/// answers with the first publish's receipt instead of storing a second copy. A cancelled settle or lease renewal may
/// still be applied.
/// </remarks>
public interface IBrokerClient
{
    /// <summary>Publishes one message to a queue; completes when it is durably stored.</summary>
    Task<PublishReceipt> PublishAsync(string queue, BrokerMessage message, CancellationToken cancellationToken = default);

    /// <summary>Publishes 1 to 1000 messages to a queue, all or none; completes when they are durably stored.</summary>
    Task<IReadOnlyList<PublishReceipt>> PublishBatchAsync(string queue, IReadOnlyList<BrokerMessage> messages, CancellationToken cancellationToken = default);

    /// <summary>
    /// Publishes to a topic; completes when every subscription the message matches holds it durably. The receipt says
    /// which subscriptions took it and which dead-lettered their copy.
    /// </summary>
    Task<TopicReceipt> PublishToTopicAsync(string topic, BrokerMessage message, CancellationToken cancellationToken = default);

    /// <summary>Publishes 1 to 1000 messages to a topic; completes when every matching subscription holds its messages.</summary>
    Task<IReadOnlyList<TopicReceipt>> PublishBatchToTopicAsync(string topic, IReadOnlyList<BrokerMessage> messages, CancellationToken cancellationToken = default);

    /// <summary>
    /// Starts a push consumer (a processor, in Service Bus terms) that runs <paramref name="handler"/> for each delivery, up
    /// to <see cref="ConsumerOptions.Concurrency"/> at once. A handler that returns completes the delivery; one that throws
    /// abandons it (it comes back with a higher attempt number, and goes to the dead-letter queue after the queue's max
    /// attempts); settle it yourself first to choose otherwise. <paramref name="errorHandler"/> hears of every failure the
    /// consumer meets (a handler that threw, a settle or renewal that failed, the queue deleted); without one they are
    /// logged only. Fails with <c>QueueNotFound</c> when the queue does not exist. Dispose the returned consumer to stop;
    /// deliveries not settled by then are given back to the queue.
    /// </summary>
    Task<IBrokerConsumer> ConsumeAsync(string queue, Func<Delivery, CancellationToken, Task> handler, ConsumerOptions? options = null,
        Func<ConsumerError, Task>? errorHandler = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Deliveries as an async stream (a receiver; push underneath, no polling). Settle each one (<see cref="CompleteAsync"/>,
    /// <see cref="AbandonAsync"/>, <see cref="DeadLetterAsync"/>); the stream ends when the token is cancelled, and
    /// throws <c>QueueNotFound</c> when the queue does not exist or is deleted. Leaving the loop unsubscribes and gives back
    /// what is unsettled: await your settles before you leave it.
    /// </summary>
    IAsyncEnumerable<Delivery> ReadAllAsync(string queue, ConsumerOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Completes (acks) a delivery: the message is done and removed. <c>LeaseLost</c> when its lease had ended.</summary>
    Task CompleteAsync(Delivery delivery, CancellationToken cancellationToken = default);

    /// <summary>
    /// Abandons (nacks) a delivery: it is delivered again after the queue's retry backoff, or after <paramref name="retryAfter"/>
    /// when given (0 = at once, at most 7 days); after the queue's max attempts it goes to the dead-letter queue.
    /// <c>LeaseLost</c> when its lease had ended.
    /// </summary>
    Task AbandonAsync(Delivery delivery, TimeSpan? retryAfter = null, CancellationToken cancellationToken = default);

    /// <summary>
    /// Moves a delivery to the queue's dead-letter queue now, with <paramref name="reason"/> in its headers.
    /// <c>LeaseLost</c> when its lease had ended.
    /// </summary>
    Task DeadLetterAsync(Delivery delivery, string? reason = null, CancellationToken cancellationToken = default);

    /// <summary>Renews a delivery's lease to now + <paramref name="duration"/> (at most 12 hours); returns the new expiry.</summary>
    Task<DateTimeOffset> RenewLeaseAsync(Delivery delivery, TimeSpan duration, CancellationToken cancellationToken = default);

    /// <summary>
    /// Shows up to <paramref name="max"/> (1 to 1000) messages of a queue with a sequence above
    /// <paramref name="afterSequence"/>, in order, without delivering or changing them; dead-letter queues included.
    /// </summary>
    Task<IReadOnlyList<PeekedMessage>> PeekAsync(string queue, long afterSequence = 0, int max = 100, CancellationToken cancellationToken = default);

    /// <summary>
    /// Pull receive, as Service Bus' <c>ReceiveMessagesAsync</c> or SQS <c>ReceiveMessage</c>: takes up to
    /// <paramref name="maxMessages"/> ready messages, waiting up to <paramref name="maxWait"/> (0 to 20 seconds, default 0) for
    /// the first when none is ready, and returns as soon as it has any; an empty list when nothing came. Each is leased for
    /// <paramref name="leaseDuration"/> (the queue's lease length when null): settle it with <see cref="CompleteAsync"/>,
    /// <see cref="AbandonAsync"/>, <see cref="DeadLetterAsync"/> or <see cref="RenewLeaseAsync"/> before then, or it is
    /// delivered again. A partitioned queue is received from across its partitions. Cancelled, it stops waiting and returns
    /// what it has (nothing); no message is leased to a cancelled receive without being returned.
    /// </summary>
    Task<IReadOnlyList<Delivery>> ReceiveAsync(string queue, int maxMessages = 1, TimeSpan? maxWait = null, TimeSpan? leaseDuration = null, CancellationToken cancellationToken = default);
}
