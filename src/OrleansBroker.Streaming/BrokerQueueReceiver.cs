using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Orleans.Providers.Streams.Common;
using Orleans.Serialization;
using Orleans.Streams;
using OrleansBroker.Client;
using OrleansBroker.Messages;

namespace OrleansBroker.Streaming;

/// <summary>
/// One pulling agent's source: a handler consumer on each topic's stream subscription feeds a local buffer the agent
/// drains; each delivery becomes one cached batch. The handler holds its delivery (the client keeps the lease alive)
/// until the agent's cache releases the event (<see cref="MessagesDeliveredAsync"/>: the handler returns and the client
/// acks) or a consumer fails on it (requeued with the subscription's backoff, or dead-lettered after its last attempt).
/// </summary>
internal sealed partial class BrokerQueueReceiver(
    string providerName,
    BrokerStreamOptions options,
    IBrokerClient broker,
    BrokerStreamSubscriptions subscriptions,
    Serializer serializer,
    DeliveryLedger ledger,
    ILogger logger) : IQueueAdapterReceiver
{
    private static readonly TimeSpan MaxPumpBackoff = TimeSpan.FromSeconds(30);

    /// <summary>How long an event may wait for its consumers with its lease kept alive: 1 hour; after that it is delivered again.</summary>
    internal static readonly TimeSpan MaxHold = TimeSpan.FromHours(1);

    private readonly Channel<(Delivery Delivery, TaskCompletionSource<string?> Outcome)> _arrived =
        Channel.CreateUnbounded<(Delivery, TaskCompletionSource<string?>)>(new UnboundedChannelOptions { SingleReader = true });
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

    public Task<IList<IBatchContainer>> GetQueueMessagesAsync(int maxCount)
    {
        var limit = maxCount < 0 ? int.MaxValue : maxCount;
        var batch = new List<IBatchContainer>();
        while (batch.Count < limit && _arrived.Reader.TryRead(out var arrived))
        {
            var container = ToContainer(arrived.Delivery);
            ledger.Add(container.Token.SequenceNumber, arrived.Outcome);
            batch.Add(container);
        }

        return Task.FromResult<IList<IBatchContainer>>(batch);
    }

    public Task MessagesDeliveredAsync(IList<IBatchContainer> messages)
    {
        ledger.Release(messages.OfType<BrokerBatchContainer>().Select(container => container.Token.SequenceNumber));
        return Task.CompletedTask;
    }

    public async Task Shutdown(TimeSpan timeout)
    {
        await _stop.CancelAsync().ConfigureAwait(false);

        // Leaving a consumer's loop unsubscribes it, and the broker requeues what it had not settled at once.
        await Task.WhenAll(_pumps).WaitAsync(timeout).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
        _stop.Dispose();
    }

    private BrokerBatchContainer ToContainer(Delivery delivery)
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
        // Handlers start in delivery order, so the agent's buffer (and each stream) gets the events in queue order.
        var consumerOptions = new ConsumerOptions { Prefetch = options.Prefetch, Concurrency = options.Prefetch, MaxLeaseRenewal = MaxHold, StartHandlersInOrder = true };
        var failures = 0;
        while (!stop.IsCancellationRequested)
        {
            try
            {
                // Made at start-up; made again here in case it was deleted since (a subscription that differs is logged and retried).
                await subscriptions.EnsureAsync(topic, subscription, stop).ConfigureAwait(false);
                var consumer = await broker.ConsumeAsync(queue, HandleAsync, consumerOptions with { ConsumerId = $"orleans-{providerName}-{Guid.NewGuid():N}" }, cancellationToken: stop).ConfigureAwait(false);
                await using (consumer.ConfigureAwait(false))
                {
                    failures = 0;

                    // Faults when the subscription's queue is deleted; disposing on stop requeues what is still held.
                    await consumer.Completion.WaitAsync(stop).ConfigureAwait(false);
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

    /// <summary>
    /// Holds one delivery until its event's outcome: released (return, so the client acks), or failed (requeue, or
    /// dead-letter with the reason on the last attempt). A lost lease or a stop cancels the wait; the broker delivers it again.
    /// </summary>
    private async Task HandleAsync(Delivery delivery, CancellationToken leaseLost)
    {
        var outcome = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _arrived.Writer.TryWrite((delivery, outcome));
        if (await outcome.Task.WaitAsync(leaseLost).ConfigureAwait(false) is not { } reason)
        {
            return;
        }

        var maxAttempts = options.Subscription.MaxDeliveryAttempts;
        if (maxAttempts > 0 && delivery.Attempt >= maxAttempts)
        {
            await broker.DeadLetterAsync(delivery, $"{reason} Attempt {delivery.Attempt} of {maxAttempts}.", leaseLost).ConfigureAwait(false);
        }
        else
        {
            await broker.AbandonAsync(delivery, null, leaseLost).ConfigureAwait(false);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Stream consumer of {Queue} stopped; it starts again in {Wait}.")]
    private partial void LogPumpFailed(Exception exception, string queue, TimeSpan wait);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Message {MessageId} of {Queue} says it holds Orleans stream events but cannot be read; it is delivered as a BrokerStreamMessage.")]
    private partial void LogUnreadablePayload(Exception exception, string messageId, string queue);
}
