using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Orleans.Providers.Streams.Common;
using Orleans.Serialization;
using Orleans.Streams;
using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Topics;

namespace OrleansBroker.Streaming;

/// <summary>
/// One pulling agent's source: a push consumer on each topic's stream subscription feeds a local buffer the agent
/// drains; each delivery becomes one cached batch. Deliveries stay leased until the agent's cache releases them
/// (<see cref="MessagesDeliveredAsync"/>, then acked) or a consumer fails on them (requeued or dead-lettered).
/// </summary>
internal sealed partial class BrokerQueueReceiver(
    string providerName,
    BrokerStreamOptions options,
    IBrokerClient broker,
    Serializer serializer,
    DeliveryLedger ledger,
    ILogger logger) : IQueueAdapterReceiver
{
    private static readonly TimeSpan MaxPumpBackoff = TimeSpan.FromSeconds(30);
    private readonly Channel<Delivery.Delivery> _arrived = Channel.CreateUnbounded<Delivery.Delivery>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _pumps = [];
    private long _lastToken;

    public Task Initialize(TimeSpan timeout)
    {
        var subscription = options.ResolveSubscriptionName(providerName);
        foreach (var topic in options.Topics)
        {
            _pumps.Add(Task.Run(() => PumpAsync(topic, subscription, _stop.Token)));
        }

        return Task.CompletedTask;
    }

    public async Task<IList<IBatchContainer>> GetQueueMessagesAsync(int maxCount)
    {
        await ledger.RenewDueAsync().ConfigureAwait(false);
        var limit = maxCount < 0 ? int.MaxValue : maxCount;
        var batch = new List<IBatchContainer>();
        while (batch.Count < limit && _arrived.Reader.TryRead(out var delivery))
        {
            var container = ToContainer(delivery);
            ledger.Add(container.Token.SequenceNumber, delivery);
            batch.Add(container);
        }

        return batch;
    }

    public Task MessagesDeliveredAsync(IList<IBatchContainer> messages) =>
        ledger.AckAsync(messages.OfType<BrokerBatchContainer>().Select(container => container.Token.SequenceNumber));

    public async Task Shutdown(TimeSpan timeout)
    {
        await _stop.CancelAsync().ConfigureAwait(false);

        // Leaving a consumer's loop unsubscribes it, and the broker requeues what it had not settled at once.
        await Task.WhenAll(_pumps).WaitAsync(timeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private BrokerBatchContainer ToContainer(Delivery.Delivery delivery)
    {
        // Tokens only grow, across restarts too (they start from the clock), so a consumer's remembered token never
        // points past what the cache will hold.
        var token = new EventSequenceTokenV2(_lastToken = Math.Max(_lastToken + 1, DateTime.UtcNow.Ticks));
        var topic = delivery.Queue[..delivery.Queue.IndexOf('/', StringComparison.Ordinal)];
        var key = delivery.Headers?.GetValueOrDefault(BrokerStreamMessage.StreamKeyHeader) ?? delivery.OrderingKey ?? delivery.RoutingKey ?? topic;
        var streamId = StreamId.Create(topic, key);
        if (delivery.ContentType == BrokerStreamMessage.OrleansContentType)
        {
            try
            {
                var payload = serializer.Deserialize<BrokerStreamPayload>(delivery.Body) ?? throw new InvalidDataException("The payload is empty.");
                return new BrokerBatchContainer(streamId, payload.Events, payload.RequestContext, token);
            }
            catch (Exception exception)
            {
                // Not ours after all (or a type this silo does not know): consumers get it as a broker message.
                LogUnreadablePayload(exception, delivery.MessageId, delivery.Queue);
            }
        }

        var message = new BrokerStreamMessage(topic, delivery.MessageId, delivery.Body, delivery.ContentType, delivery.Headers,
            delivery.RoutingKey, delivery.EnqueuedAt, delivery.Attempt);
        return new BrokerBatchContainer(streamId, [message], null, token);
    }

    private async Task PumpAsync(string topic, string subscription, CancellationToken stop)
    {
        var queue = $"{topic}/{subscription}";
        var failures = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                await EnsureSubscriptionAsync(topic, subscription, stop).ConfigureAwait(false);
                var consumer = new ConsumerOptions { Prefetch = options.Prefetch, ConsumerId = $"orleans-{providerName}-{Guid.NewGuid():N}" };
                await foreach (var delivery in broker.ReadAllAsync(queue, consumer, stop).ConfigureAwait(false))
                {
                    failures = 0;
                    _arrived.Writer.TryWrite(delivery);
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception exception)
            {
                failures++;
                var wait = TimeSpan.FromSeconds(Math.Min(MaxPumpBackoff.TotalSeconds, Math.Pow(2, Math.Min(failures, 5)) / 2));
                LogPumpFailed(exception, queue, wait);
                try
                {
                    await Task.Delay(wait, stop).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }

    private async Task EnsureSubscriptionAsync(string topic, string subscription, CancellationToken stop)
    {
        try
        {
            await broker.GetTopicInfoAsync(topic, stop).ConfigureAwait(false);
        }
        catch (BrokerException exception) when (exception.Code == BrokerErrorCode.TopicNotFound)
        {
            await broker.CreateTopicAsync(topic, null, stop).ConfigureAwait(false);
            LogCreatedTopic(topic);
        }

        // Idempotent with the same filter and options; different ones fail with a typed error, logged and retried.
        await broker.SubscribeAsync(topic, new Subscription(subscription, options.Filter, options.Subscription), null, stop).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream consumer of {Queue} stopped; it starts again in {Wait}.")]
    private partial void LogPumpFailed(Exception exception, string queue, TimeSpan wait);

    [LoggerMessage(Level = LogLevel.Information, Message = "Created topic {Topic} (default options) for the stream provider.")]
    private partial void LogCreatedTopic(string topic);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Message {MessageId} of {Queue} says it holds Orleans stream events but cannot be read; it is delivered as a BrokerStreamMessage.")]
    private partial void LogUnreadablePayload(Exception exception, string messageId, string queue);
}
