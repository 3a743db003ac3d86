using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using OrleansBroker.Client.Consuming;
using OrleansBroker.Client.Hosting;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Topics;

namespace OrleansBroker.Client;

/// <summary>The <see cref="IBrokerClient"/> over an Orleans cluster client.</summary>
internal sealed class BrokerClient(IClusterClient cluster, ILoggerFactory loggers, SiloLossWatch siloLoss, BrokerClientOptions? options = null) : IBrokerClient
{
    private readonly ConcurrentDictionary<string, SettleBatcher> _settlers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, PublishCoalescer<PublishReceipt>> _queuePublishes = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, PublishCoalescer<TopicReceipt>> _topicPublishes = new(StringComparer.Ordinal);
    private readonly int _maxPublishCallsInFlight = options?.MaxPublishCallsInFlight ?? BrokerClientOptions.DefaultMaxPublishCallsInFlight;
    private readonly ILogger _logger = loggers.CreateLogger("OrleansBroker.Client");
    private readonly PartitionRouter<PublishReceipt> _router = new(queue => cluster.GetGrain<IQueueGrain>(queue).GetPartitions(), (partition, messages) =>
    {
        var grain = cluster.GetGrain<IQueueGrain>(partition);
        return messages.Count == 1 ? One(siloLoss.Await(grain.Publish(messages[0]))) : siloLoss.Await(grain.PublishBatch(messages));
    });

    private readonly PartitionRouter<TopicReceipt> _topicRouter = new(topic => cluster.GetGrain<ITopicGrain>(topic).GetPartitions(), (partition, messages) =>
    {
        var grain = cluster.GetGrain<ITopicGrain>(partition);
        return messages.Count == 1 ? One(siloLoss.Await(grain.Publish(messages[0]))) : siloLoss.Await(grain.PublishBatch(messages));
    });

    private int _receiveTurn;

    private static async Task<IReadOnlyList<T>> One<T>(Task<T> call) => [await call.ConfigureAwait(false)];

    // Publishes check the caller's token before they are sent and stop waiting when it is cancelled; the grain call takes
    // none: the queue and topic grains are reentrant, so a publish starts as it arrives and a cancellation could only come
    // after it had begun, when the store goes on anyway.

    public Task<PublishReceipt> PublishAsync(string queue, BrokerMessage message, CancellationToken cancellationToken = default)
    {
        var grain = Queue(queue);
        ArgumentNullException.ThrowIfNull(message);
        cancellationToken.ThrowIfCancellationRequested();
        if (ClientTelemetry.Listening)
        {
            return ClientTelemetry.SendAsync(queue, [message], traced => Send(traced[0]), receipt => receipt.MessageId);
        }

        return Send(message);

        Task<PublishReceipt> Send(BrokerMessage message) => _router.GoesStraightTo(queue) ? QueuePublishes(queue, grain).PublishAsync(message).WaitAsync(cancellationToken) : PlaceAsync(message);

        async Task<PublishReceipt> PlaceAsync(BrokerMessage message) => (await _router.PublishAsync(queue, [message], cancellationToken).ConfigureAwait(false))[0];
    }

    public Task<IReadOnlyList<PublishReceipt>> PublishBatchAsync(string queue, IReadOnlyList<BrokerMessage> messages, CancellationToken cancellationToken = default)
    {
        var grain = Queue(queue);
        ValidateBatchSize(messages);
        cancellationToken.ThrowIfCancellationRequested();
        return ClientTelemetry.Listening ? ClientTelemetry.SendAsync(queue, messages, Send, receipts => receipts.Count == 1 ? receipts[0].MessageId : null) : Send(messages);

        Task<IReadOnlyList<PublishReceipt>> Send(IReadOnlyList<BrokerMessage> messages) =>
            _router.GoesStraightTo(queue) ? siloLoss.Await(grain.PublishBatch(messages), cancellationToken) : _router.PublishAsync(queue, messages, cancellationToken);
    }

    public Task<TopicReceipt> PublishToTopicAsync(string topic, BrokerMessage message, CancellationToken cancellationToken = default)
    {
        var grain = Topic(topic);
        ArgumentNullException.ThrowIfNull(message);
        cancellationToken.ThrowIfCancellationRequested();
        if (ClientTelemetry.Listening)
        {
            return ClientTelemetry.SendAsync(topic, [message], traced => Send(traced[0]), receipt => receipt.MessageId);
        }

        return Send(message);

        Task<TopicReceipt> Send(BrokerMessage message) => _topicRouter.GoesStraightTo(topic) ? TopicPublishes(topic, grain).PublishAsync(message).WaitAsync(cancellationToken) : PlaceAsync(message);

        async Task<TopicReceipt> PlaceAsync(BrokerMessage message) => (await _topicRouter.PublishAsync(topic, [message], cancellationToken).ConfigureAwait(false))[0];
    }

    public Task<IReadOnlyList<TopicReceipt>> PublishBatchToTopicAsync(string topic, IReadOnlyList<BrokerMessage> messages, CancellationToken cancellationToken = default)
    {
        var grain = Topic(topic);
        ValidateBatchSize(messages);
        cancellationToken.ThrowIfCancellationRequested();
        return ClientTelemetry.Listening ? ClientTelemetry.SendAsync(topic, messages, Send, receipts => receipts.Count == 1 ? receipts[0].MessageId : null) : Send(messages);

        Task<IReadOnlyList<TopicReceipt>> Send(IReadOnlyList<BrokerMessage> messages) =>
            _topicRouter.GoesStraightTo(topic) ? siloLoss.Await(grain.PublishBatch(messages), cancellationToken) : _topicRouter.PublishAsync(topic, messages, cancellationToken);
    }

    public async Task<IBrokerConsumer> ConsumeAsync(string queue, Func<Delivery, CancellationToken, Task> handler, ConsumerOptions? options = null,
        Func<ConsumerError, Task>? errorHandler = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(handler);
        options ??= new ConsumerOptions();
        options.Validate();

        // Renewal extends by the queue's own lease length, asked once here (the delivery's expiry is on the silo's clock).
        TimeSpan? lease = options.MaxLeaseRenewal > TimeSpan.Zero
            ? (await Queue(queue).GetInfo().WaitAsync(cancellationToken).ConfigureAwait(false)).Options.LeaseDuration
            : null;
        var consumer = await StartConsumerAsync(queue, options, cancellationToken).ConfigureAwait(false);
        var renewal = lease is { } duration ? new LeaseRenewal(duration, options.MaxLeaseRenewal) : null;
        return new HandlerConsumer(consumer, handler, errorHandler, options.Concurrency, options.StartHandlersInOrder, renewal, this, _logger);
    }

    public async IAsyncEnumerable<Delivery> ReadAllAsync(string queue, ConsumerOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
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

    public Task CompleteAsync(Delivery delivery, CancellationToken cancellationToken = default) =>
        SettleAsync(delivery, SettleKind.Ack, null, null, cancellationToken);

    public Task AbandonAsync(Delivery delivery, TimeSpan? retryAfter = null, CancellationToken cancellationToken = default) =>
        SettleAsync(delivery, SettleKind.Requeue, null, retryAfter, cancellationToken);

    public Task DeadLetterAsync(Delivery delivery, string? reason = null, CancellationToken cancellationToken = default) =>
        SettleAsync(delivery, SettleKind.DeadLetter, reason, null, cancellationToken);

    public Task<DateTimeOffset> RenewLeaseAsync(Delivery delivery, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        return Queue(delivery.Queue).ExtendLease(delivery.Sequence, delivery.LeaseToken, duration).WaitAsync(cancellationToken);
    }

    public Task<IReadOnlyList<PeekedMessage>> PeekAsync(string queue, long afterSequence = 0, int max = 100, CancellationToken cancellationToken = default) =>
        Queue(queue).Peek(afterSequence, max, cancellationToken).WaitAsync(cancellationToken);

    public async Task<IReadOnlyList<Delivery>> ReceiveAsync(string queue, int maxMessages = 1, TimeSpan? maxWait = null, TimeSpan? leaseDuration = null,
        CancellationToken cancellationToken = default)
    {
        if (!ClientTelemetry.Listening)
        {
            return await ReceiveUntracedAsync(queue, maxMessages, maxWait, leaseDuration, cancellationToken).ConfigureAwait(false);
        }

        using var activity = ClientTelemetry.StartReceive(queue);
        try
        {
            var deliveries = await ReceiveUntracedAsync(queue, maxMessages, maxWait, leaseDuration, cancellationToken).ConfigureAwait(false);
            ClientTelemetry.Received(activity, deliveries);
            return deliveries;
        }
        catch (Exception exception)
        {
            ClientTelemetry.Failed(activity, exception);
            throw;
        }
    }

    private async Task<IReadOnlyList<Delivery>> ReceiveUntracedAsync(string queue, int maxMessages, TimeSpan? maxWait, TimeSpan? leaseDuration, CancellationToken cancellationToken)
    {
        var grain = Queue(queue);
        var wait = maxWait ?? TimeSpan.Zero;
        ReceiveLimits.Validate(maxMessages, wait, leaseDuration ?? QueueOptions.MinLeaseDuration);
        var partitions = await _router.CountAsync(queue).ConfigureAwait(false);
        if (partitions == 1)
        {
            return await grain.Receive(maxMessages, wait, leaseDuration, cancellationToken).ConfigureAwait(false);
        }

        // First what is ready anywhere, starting at a partition in turn; then, if nothing was, a wait on up to maxMessages
        // partitions at once, each for its share, the others told to stop once one answers (what they took comes along).
        var start = (int)((uint)Interlocked.Increment(ref _receiveTurn) % (uint)partitions);
        var taken = new List<Delivery>();
        for (var i = 0; i < partitions && taken.Count < maxMessages; i++)
        {
            var partition = cluster.GetGrain<IQueueGrain>(QueuePartitions.NameOf(queue, (start + i) % partitions));
            taken.AddRange(await partition.Receive(maxMessages - taken.Count, TimeSpan.Zero, leaseDuration, cancellationToken).ConfigureAwait(false));
        }

        if (taken.Count > 0 || wait == TimeSpan.Zero)
        {
            return taken;
        }

        var waiting = Math.Min(partitions, maxMessages);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var calls = Enumerable.Range(0, waiting)
            .Select(i => cluster.GetGrain<IQueueGrain>(QueuePartitions.NameOf(queue, (start + i) % partitions))
                .Receive(maxMessages / waiting + (i < maxMessages % waiting ? 1 : 0), wait, leaseDuration, stop.Token))
            .ToList();
        var pending = calls.ToList();
        while (pending.Count > 0)
        {
            var done = await Task.WhenAny(pending).ConfigureAwait(false);
            pending.Remove(done);
            if (done.IsCompletedSuccessfully && done.Result.Count > 0)
            {
                await stop.CancelAsync().ConfigureAwait(false);
            }
        }

        foreach (var call in calls)
        {
            if (call.IsCompletedSuccessfully)
            {
                taken.AddRange(call.Result);
            }
        }

        return taken.Count > 0 || calls.All(c => !c.IsFaulted) ? taken : await calls.First(c => c.IsFaulted).ConfigureAwait(false);
    }

    /// <summary>Settles through the queue's batcher: settles from many callers go in one call, each caller still told its own outcome.</summary>
    private async Task SettleAsync(Delivery delivery, SettleKind kind, string? reason, TimeSpan? retryAfter, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(delivery);
        var settler = _settlers.GetOrAdd(delivery.Queue, name => new SettleBatcher(cluster.GetGrain<IQueueGrain>(name)));
        var status = await settler.SettleAsync(new Settlement(delivery.Sequence, delivery.LeaseToken, kind, reason, retryAfter)).WaitAsync(cancellationToken).ConfigureAwait(false);
        if (status == SettleStatus.LeaseLost)
        {
            var outcome = kind switch { SettleKind.Ack => "completed", SettleKind.Requeue => "abandoned", _ => "dead-lettered" };
            throw new BrokerException(BrokerErrorCode.LeaseLost,
                $"Message '{delivery.MessageId}' of queue '{delivery.Queue}' was not {outcome}: its lease had ended or it was settled already; it may be delivered again.");
        }
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

    private async Task<QueueConsumer> StartConsumerAsync(string queue, ConsumerOptions options, CancellationToken cancellationToken)
    {
        QueueName.Validate(queue);
        options.Validate();
        var consumer = new QueueConsumer(cluster, queue, options, _logger);
        await consumer.StartAsync(cancellationToken).ConfigureAwait(false);
        return consumer;
    }

    /// <summary>The single publishes to one unpartitioned queue, coalesced under load (<see cref="PublishCoalescer{TReceipt}"/>).</summary>
    private PublishCoalescer<PublishReceipt> QueuePublishes(string queue, IQueueGrain grain) =>
        _queuePublishes.TryGetValue(queue, out var coalescer) ? coalescer : _queuePublishes.GetOrAdd(queue, _ => new PublishCoalescer<PublishReceipt>(
            message => siloLoss.Await(grain.Publish(message)), messages => siloLoss.Await(grain.PublishBatch(messages)), _maxPublishCallsInFlight));

    /// <summary>The single publishes to one unpartitioned topic, coalesced under load.</summary>
    private PublishCoalescer<TopicReceipt> TopicPublishes(string topic, ITopicGrain grain) =>
        _topicPublishes.TryGetValue(topic, out var coalescer) ? coalescer : _topicPublishes.GetOrAdd(topic, _ => new PublishCoalescer<TopicReceipt>(
            message => siloLoss.Await(grain.Publish(message)), messages => siloLoss.Await(grain.PublishBatch(messages)), _maxPublishCallsInFlight));

    private ITopicGrain Topic(string topic)
    {
        QueueName.Validate(topic);
        return cluster.GetGrain<ITopicGrain>(topic);
    }

    private IQueueGrain Queue(string queue)
    {
        QueueName.Validate(queue);
        return cluster.GetGrain<IQueueGrain>(queue);
    }
}
