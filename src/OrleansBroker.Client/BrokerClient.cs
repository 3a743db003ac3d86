using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using OrleansBroker.Client.Consuming;
using OrleansBroker.Delivery;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Topics;

namespace OrleansBroker.Client;

/// <summary>The <see cref="IBrokerClient"/> over an Orleans cluster client.</summary>
internal sealed class BrokerClient(IClusterClient cluster, ILoggerFactory loggers) : IBrokerClient
{
    private readonly ConcurrentDictionary<string, SettleBatcher> _settlers = new(StringComparer.Ordinal);
    private readonly ILogger _logger = loggers.CreateLogger("OrleansBroker.Client");
    private readonly PartitionRouter<PublishReceipt> _router = new(queue => cluster.GetGrain<IQueueGrain>(queue).GetPartitions(), (partition, messages) =>
    {
        var grain = cluster.GetGrain<IQueueGrain>(partition);
        return messages.Count == 1 ? One(grain.Publish(messages[0])) : grain.PublishBatch(messages);
    });

    private readonly PartitionRouter<TopicReceipt> _topicRouter = new(topic => cluster.GetGrain<ITopicGrain>(topic).GetPartitions(), (partition, messages) =>
    {
        var grain = cluster.GetGrain<ITopicGrain>(partition);
        return messages.Count == 1 ? One(grain.Publish(messages[0])) : grain.PublishBatch(messages);
    });

    private static async Task<IReadOnlyList<T>> One<T>(Task<T> call) => [await call.ConfigureAwait(false)];

    public Task<QueueInfo> CreateQueueAsync(string queue, QueueOptions? options = null, CancellationToken cancellationToken = default) =>
        Queue(queue).Create(options ?? new QueueOptions()).WaitAsync(cancellationToken);

    public Task<QueueInfo> GetQueueInfoAsync(string queue, CancellationToken cancellationToken = default) =>
        Queue(queue).GetInfo().WaitAsync(cancellationToken);

    public Task<IReadOnlyList<string>> ListQueuesAsync(CancellationToken cancellationToken = default) =>
        cluster.GetGrain<IQueueRegistryGrain>(IQueueRegistryGrain.Queues).List().WaitAsync(cancellationToken);

    public Task<QueueInfo> GrowPartitionsAsync(string queue, int partitions, CancellationToken cancellationToken = default) =>
        Queue(queue).GrowPartitions(partitions).WaitAsync(cancellationToken);

    public Task<long> PurgeQueueAsync(string queue, CancellationToken cancellationToken = default) =>
        Queue(queue).Purge().WaitAsync(cancellationToken);

    public Task DeleteQueueAsync(string queue, CancellationToken cancellationToken = default) =>
        Queue(queue).Delete().WaitAsync(cancellationToken);

    public Task<PublishReceipt> PublishAsync(string queue, BrokerMessage message, CancellationToken cancellationToken = default)
    {
        var grain = Queue(queue);
        ArgumentNullException.ThrowIfNull(message);
        return _router.GoesStraightTo(queue) ? grain.Publish(message).WaitAsync(cancellationToken) : PlaceAsync();

        async Task<PublishReceipt> PlaceAsync() => (await _router.PublishAsync(queue, [message], cancellationToken).ConfigureAwait(false))[0];
    }

    public Task<IReadOnlyList<PublishReceipt>> PublishBatchAsync(string queue, IReadOnlyList<BrokerMessage> messages, CancellationToken cancellationToken = default)
    {
        QueueName.Validate(queue);
        ValidateBatchSize(messages);

        return _router.GoesStraightTo(queue) ? Queue(queue).PublishBatch(messages).WaitAsync(cancellationToken) : _router.PublishAsync(queue, messages, cancellationToken);
    }

    public async Task<IBrokerConsumer> ConsumeAsync(string queue, Func<Delivery.Delivery, CancellationToken, Task> handler, ConsumerOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        options ??= new ConsumerOptions();
        options.Validate();

        // Renewal extends by the queue's own lease length, asked once here (the delivery's expiry is on the silo's clock).
        TimeSpan? lease = options.MaxLeaseRenewal > TimeSpan.Zero
            ? (await GetQueueInfoAsync(queue, cancellationToken).ConfigureAwait(false)).Options.LeaseDuration
            : null;
        var consumer = await StartConsumerAsync(queue, options, cancellationToken).ConfigureAwait(false);
        var renewal = lease is { } duration ? new LeaseRenewal(duration, options.MaxLeaseRenewal) : null;
        return new HandlerConsumer(consumer, handler, options.Concurrency, options.StartHandlersInOrder, renewal, this, _logger);
    }

    public async IAsyncEnumerable<Delivery.Delivery> ReadAllAsync(string queue, ConsumerOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var consumer = await StartConsumerAsync(queue, options ?? new ConsumerOptions(), cancellationToken).ConfigureAwait(false);
        await using (consumer.ConfigureAwait(false))
        {
            await foreach (var delivery in consumer.Deliveries.ReadAllAsync(cancellationToken).ConfigureAwait(false))
            {
                yield return delivery;
            }
        }
    }

    public async Task SettleAsync(Delivery.Delivery delivery, SettleKind kind, string? reason = null, TimeSpan? retryAfter = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        var settler = _settlers.GetOrAdd(delivery.Queue, name => new SettleBatcher(cluster.GetGrain<IQueueGrain>(name)));
        var status = await settler.SettleAsync(new Settlement(delivery.Sequence, delivery.LeaseToken, kind, reason, retryAfter)).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (status == SettleStatus.LeaseLost)
        {
            throw new BrokerException(BrokerErrorCode.LeaseLost,
                $"Message '{delivery.MessageId}' of queue '{delivery.Queue}' was not {kind}ed: its lease had ended or it was settled already; it may be delivered again.");
        }
    }

    public Task<IReadOnlyList<PeekedMessage>> PeekAsync(string queue, long afterSequence = 0, int max = 100, CancellationToken cancellationToken = default) =>
        Queue(queue).Peek(afterSequence, max).WaitAsync(cancellationToken);

    public Task<RedriveResult> RedriveAsync(string deadLetterQueue, RedriveRequest? request = null, CancellationToken cancellationToken = default) =>
        Queue(deadLetterQueue).Redrive(request ?? new RedriveRequest()).WaitAsync(cancellationToken);

    public Task<DateTimeOffset> ExtendLeaseAsync(Delivery.Delivery delivery, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        return Queue(delivery.Queue).ExtendLease(delivery.Sequence, delivery.LeaseToken, duration).WaitAsync(cancellationToken);
    }

    public Task<TopicInfo> CreateTopicAsync(string topic, TopicOptions? options = null, CancellationToken cancellationToken = default) =>
        Topic(topic).Create(options ?? new TopicOptions()).WaitAsync(cancellationToken);

    public Task<TopicInfo> GetTopicInfoAsync(string topic, CancellationToken cancellationToken = default) =>
        Topic(topic).GetInfo().WaitAsync(cancellationToken);

    public Task<IReadOnlyList<string>> ListTopicsAsync(CancellationToken cancellationToken = default) =>
        cluster.GetGrain<IQueueRegistryGrain>(IQueueRegistryGrain.Topics).List().WaitAsync(cancellationToken);

    public Task DeleteTopicAsync(string topic, CancellationToken cancellationToken = default) =>
        Topic(topic).Delete().WaitAsync(cancellationToken);

    public Task<TopicInfo> SubscribeAsync(string topic, Subscription subscription, DateTimeOffset? replayFrom = null, CancellationToken cancellationToken = default) =>
        Topic(topic).Subscribe(subscription, replayFrom).WaitAsync(cancellationToken);

    public Task SeekAsync(string topic, string subscription, DateTimeOffset to, CancellationToken cancellationToken = default) =>
        Topic(topic).Seek(subscription, to).WaitAsync(cancellationToken);

    public Task<TopicInfo> UnsubscribeAsync(string topic, string subscription, CancellationToken cancellationToken = default) =>
        Topic(topic).Unsubscribe(subscription).WaitAsync(cancellationToken);

    public Task<TopicReceipt> PublishToTopicAsync(string topic, BrokerMessage message, CancellationToken cancellationToken = default)
    {
        var grain = Topic(topic);
        ArgumentNullException.ThrowIfNull(message);
        return _topicRouter.GoesStraightTo(topic) ? grain.Publish(message).WaitAsync(cancellationToken) : PlaceAsync();

        async Task<TopicReceipt> PlaceAsync() => (await _topicRouter.PublishAsync(topic, [message], cancellationToken).ConfigureAwait(false))[0];
    }

    public Task<IReadOnlyList<TopicReceipt>> PublishBatchToTopicAsync(string topic, IReadOnlyList<BrokerMessage> messages, CancellationToken cancellationToken = default)
    {
        var grain = Topic(topic);
        ValidateBatchSize(messages);

        return _topicRouter.GoesStraightTo(topic) ? grain.PublishBatch(messages).WaitAsync(cancellationToken) : _topicRouter.PublishAsync(topic, messages, cancellationToken);
    }

    /// <summary>Said here, before a batch is split over partitions; the queue or topic checks it again.</summary>
    private static void ValidateBatchSize(IReadOnlyList<BrokerMessage> messages)
    {
        if (messages is null || messages.Count == 0 || messages.Count > BrokerLimits.MaxBatchCount)
        {
            throw new BrokerException(BrokerErrorCode.InvalidBatch,
                $"A publish batch holds 1 to {BrokerLimits.MaxBatchCount} messages; this one holds {messages?.Count ?? 0}.");
        }
    }

    private ITopicGrain Topic(string topic)
    {
        QueueName.Validate(topic);
        return cluster.GetGrain<ITopicGrain>(topic);
    }

    private async Task<QueueConsumer> StartConsumerAsync(string queue, ConsumerOptions options, CancellationToken cancellationToken)
    {
        options.Validate();
        var consumer = new QueueConsumer(cluster, queue, options, _logger);
        await consumer.StartAsync(cancellationToken).ConfigureAwait(false);
        return consumer;
    }

    private IQueueGrain Queue(string queue)
    {
        QueueName.Validate(queue);
        return cluster.GetGrain<IQueueGrain>(queue);
    }
}
