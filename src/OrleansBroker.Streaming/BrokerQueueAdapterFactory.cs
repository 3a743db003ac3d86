using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Providers.Streams.Common;
using Orleans.Serialization;
using Orleans.Streams;
using OrleansBroker.Client;
using OrleansBroker.Messages;

namespace OrleansBroker.Streaming;

/// <summary>
/// The Orleans persistent-stream adapter over broker topics. Producers' events are published to the topic named by
/// the stream namespace; pulling agents consume each listed topic through one durable subscription.
/// </summary>
internal sealed class BrokerQueueAdapterFactory(string name, BrokerStreamOptions options, IServiceProvider services) : IQueueAdapterFactory, IQueueAdapter
{
    private readonly ConcurrentDictionary<QueueId, DeliveryLedger> _ledgers = new();
    private readonly IBrokerClient _broker = services.GetRequiredService<IBrokerClient>();
    private readonly Serializer _serializer = services.GetRequiredService<Serializer>();
    private readonly ILoggerFactory _loggers = services.GetRequiredService<ILoggerFactory>();
    private readonly HashRingBasedStreamQueueMapper _mapper = new(new HashRingStreamQueueMapperOptions { TotalQueueCount = options.QueueCount }, name);

    public static IQueueAdapterFactory Create(IServiceProvider services, string name) =>
        new BrokerQueueAdapterFactory(name, services.GetRequiredKeyedService<BrokerStreamOptions>(name), services);

    public string Name => name;

    public bool IsRewindable => false;

    public StreamProviderDirection Direction => StreamProviderDirection.ReadWrite;

    public Task<IQueueAdapter> CreateAdapter() => Task.FromResult<IQueueAdapter>(this);

    public IQueueAdapterCache GetQueueAdapterCache() => new SimpleQueueAdapterCache(new SimpleQueueCacheOptions(), name, _loggers);

    public IStreamQueueMapper GetStreamQueueMapper() => _mapper;

    public Task<IStreamFailureHandler> GetDeliveryFailureHandler(QueueId queueId) =>
        Task.FromResult<IStreamFailureHandler>(new BrokerStreamFailureHandler(Ledger(queueId)));

    public IQueueAdapterReceiver CreateReceiver(QueueId queueId) =>
        new BrokerQueueReceiver(name, options, _broker, services.GetRequiredKeyedService<BrokerStreamSubscriptions>(name), _serializer, Ledger(queueId),
            _loggers.CreateLogger<BrokerQueueReceiver>());

    /// <summary>Publishes the events as one message to the topic named by the stream's namespace; completes when the topic's subscriptions hold it.</summary>
    public async Task QueueMessageBatchAsync<T>(StreamId streamId, IEnumerable<T> events, StreamSequenceToken? token, Dictionary<string, object>? requestContext)
    {
        if (token is not null)
        {
            throw new ArgumentException("Broker streams order events themselves; publish without a sequence token.", nameof(token));
        }

        var topic = streamId.GetNamespace()
            ?? throw new ArgumentException($"Stream {streamId} has no namespace; broker streams use the namespace as the topic name.", nameof(streamId));
        var payload = new BrokerStreamPayload(events.Cast<object>().ToList(), requestContext is { Count: > 0 } ? requestContext : null);
        var message = new BrokerMessage(
            Id: null,
            Body: _serializer.SerializeToArray(payload),
            ContentType: BrokerStreamMessage.OrleansContentType,
            Headers: new Dictionary<string, string> { [BrokerStreamMessage.StreamKeyHeader] = streamId.GetKeyAsString() });
        await _broker.PublishToTopicAsync(topic, message).ConfigureAwait(false);
    }

    private DeliveryLedger Ledger(QueueId queueId) => _ledgers.GetOrAdd(queueId, _ => new DeliveryLedger());
}

/// <summary>
/// Called by the pulling agent when a consumer failed on an event (its handler threw or timed out): the broker
/// delivery goes back to the subscription's queue with its retry backoff, or to its dead-letter queue after the last
/// attempt. Subscriptions are never faulted: the broker owns retries.
/// </summary>
internal sealed class BrokerStreamFailureHandler(DeliveryLedger ledger) : IStreamFailureHandler
{
    public bool ShouldFaultSubsriptionOnError => false;

    public Task OnDeliveryFailure(GuidId subscriptionId, string streamProviderName, StreamId streamIdentity, StreamSequenceToken? sequenceToken)
    {
        if (sequenceToken is EventSequenceTokenV2 token)
        {
            ledger.Fail(token.SequenceNumber, $"Orleans stream consumer (subscription {subscriptionId.Guid}, stream {streamIdentity}, provider '{streamProviderName}') failed on the event.");
        }

        return Task.CompletedTask;
    }

    public Task OnSubscriptionFailure(GuidId subscriptionId, string streamProviderName, StreamId streamIdentity, StreamSequenceToken? sequenceToken) => Task.CompletedTask;
}
