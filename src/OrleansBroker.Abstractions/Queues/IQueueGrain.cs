using OrleansBroker.Messages;

namespace OrleansBroker.Queues;

/// <summary>
/// One durable queue; the grain key is the queue name (see <see cref="QueueName"/>). Every call
/// except <see cref="Create"/> fails with <c>QueueNotFound</c> until the queue is created.
/// Publishes complete only once the messages are durably stored.
/// </summary>
[Alias("ob.IQueueGrain")]
public interface IQueueGrain : IGrainWithStringKey
{
    /// <summary>Creates the queue, or confirms it exists with the same options.</summary>
    [Alias("create")]
    Task<QueueInfo> Create(QueueOptions options);

    /// <summary>Depth, consumers and counters.</summary>
    [Alias("info")]
    Task<QueueInfo> GetInfo();

    /// <summary>
    /// How many partitions the queue has (1 unless created with <see cref="QueueOptions.Partitions"/>). Clients ask once and
    /// then publish to each message's partition (see <see cref="QueuePartitions"/>) and consume from every partition.
    /// </summary>
    [Alias("partitions")]
    Task<int> GetPartitions();

    /// <summary>
    /// Grows the queue to <paramref name="partitions"/> partitions, a multiple of the count it has (up to
    /// <see cref="QueueOptions.MaxPartitions"/>), keeping each key's order: the new partitions hold the keyed messages they
    /// receive until the partition the key came from has settled every message of it. Idempotent; a growth cut short
    /// (a silo failed) is finished by asking for the same count again, and no other count is taken until it is.
    /// </summary>
    [Alias("grow-partitions")]
    Task<QueueInfo> GrowPartitions(int partitions);

    /// <summary>
    /// Replaces the queue's push endpoint (<see cref="QueueOptions.Push"/>), or removes it with null, keeping every message:
    /// to rotate a secret (give the old and the new one, move the receiver over, then give the new one alone) or to point it
    /// elsewhere. Pushing restarts with the new endpoint, which confirms it again. A topic subscription's queue is changed
    /// through its topic (<c>ITopicGrain.ChangePush</c>), so the subscription keeps its options.
    /// </summary>
    [Alias("set-push")]
    Task<QueueInfo> SetPush(PushEndpoint? push);

    /// <summary>Removes every ready message (not those in flight); returns how many.</summary>
    [Alias("purge")]
    Task<long> Purge();

    /// <summary>Deletes the queue and all its messages. Its consumers are dropped.</summary>
    [Alias("delete")]
    Task Delete();

    /// <summary>
    /// Stores one message; completes when it is durable. Takes no cancellation token: the grain is reentrant, so a publish
    /// starts as it arrives, and a caller that stops waiting (IBrokerClient does on cancellation) leaves it to finish.
    /// </summary>
    [Alias("publish")]
    Task<PublishReceipt> Publish(BrokerMessage message);

    /// <summary>Stores up to <see cref="BrokerLimits.MaxBatchCount"/> messages, all or none; completes when they are durable. As <see cref="Publish"/>.</summary>
    [Alias("publish-batch")]
    Task<IReadOnlyList<PublishReceipt>> PublishBatch(IReadOnlyList<BrokerMessage> messages);

    /// <summary>
    /// Registers (or renews) a push consumer. Idempotent: consumers call it again every
    /// <see cref="ConsumerRegistration.RenewEvery"/>, which also brings them back after a silo restart.
    /// </summary>
    [Alias("subscribe")]
    Task<ConsumerRegistration> Subscribe(string consumerId, int prefetch, IConsumerObserver observer);

    /// <summary>Removes a consumer; its unsettled deliveries are given to other consumers at once.</summary>
    [Alias("unsubscribe")]
    Task Unsubscribe(string consumerId);

    /// <summary>
    /// Pull receive (as SQS ReceiveMessage or Service Bus ReceiveMessages): takes up to <paramref name="maxMessages"/> ready
    /// messages of this partition, each leased for <paramref name="leaseDuration"/> (the queue's lease length when null),
    /// waiting up to <paramref name="maxWait"/> for the first when none is ready. Answers as soon as it has any, and with none
    /// when the wait ends or the call is cancelled. Settle what it returns like any delivery. Limits: <see cref="ReceiveLimits"/>.
    /// </summary>
    [Alias("receive")]
    Task<IReadOnlyList<Delivery>> Receive(int maxMessages, TimeSpan maxWait, TimeSpan? leaseDuration, CancellationToken cancellationToken = default);

    /// <summary>Acks or nacks deliveries; returns one status per settlement, in order.</summary>
    [Alias("settle")]
    Task<IReadOnlyList<SettleStatus>> Settle(IReadOnlyList<Settlement> settlements);

    /// <summary>
    /// Shows up to <paramref name="max"/> (1 to 1000) messages with a sequence above <paramref name="afterSequence"/>,
    /// in sequence order, without delivering or changing them. Works on any queue, dead-letter queues included.
    /// </summary>
    [Alias("peek")]
    Task<IReadOnlyList<PeekedMessage>> Peek(long afterSequence, int max, CancellationToken cancellationToken = default);

    /// <summary>
    /// On a dead-letter queue: publishes the selected messages back to their source queues (id, body and
    /// application headers kept, the broker's dead-letter headers dropped, so attempts start again from 0),
    /// then removes them here. A failure part-way leaves each message in one place or, at worst, both, never neither.
    /// Cancelled, it stops after the batch under way (of 100 messages); what did not move stays here, ready.
    /// </summary>
    [Alias("redrive")]
    Task<RedriveResult> Redrive(RedriveRequest request, CancellationToken cancellationToken = default);

    /// <summary>Extends a lease to now + <paramref name="duration"/> (at most <see cref="QueueOptions.MaxLeaseDuration"/>); returns the new expiry.</summary>
    [Alias("extend")]
    Task<DateTimeOffset> ExtendLease(long sequence, long leaseToken, TimeSpan duration);
}
