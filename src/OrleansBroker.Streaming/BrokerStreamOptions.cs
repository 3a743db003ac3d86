using OrleansBroker.Errors;
using OrleansBroker.Queues;
using OrleansBroker.Topics;

namespace OrleansBroker.Streaming;

/// <summary>
/// How a broker stream provider maps broker topics to Orleans streams. The stream namespace is the topic
/// name; see <see cref="BrokerStreamMessage"/> for the stream key and the items consumers get.
/// </summary>
public sealed class BrokerStreamOptions
{
    /// <summary>Default <see cref="Prefetch"/>: 256 deliveries per topic and pulling agent.</summary>
    public const int DefaultPrefetch = 256;

    /// <summary>Default <see cref="QueueCount"/>: 1 pulling agent.</summary>
    public const int DefaultQueueCount = 1;

    /// <summary>
    /// Topics whose messages grains consume (silo side). Each gets the subscription <see cref="SubscriptionName"/>,
    /// created at start-up with <see cref="Subscription"/> options (and the topic itself, with default options, if it
    /// does not exist). Producers (grains or clients) may publish to any existing topic, listed or not.
    /// </summary>
    public IList<string> Topics { get; } = [];

    /// <summary>The subscription each topic feeds the streams from; default <c>orleans-&lt;provider name&gt;</c>.</summary>
    public string? SubscriptionName { get; set; }

    /// <summary>Which messages of the topics reach the streams; default all.</summary>
    public SubscriptionFilter Filter { get; set; } = SubscriptionFilter.All;

    /// <summary>
    /// Options of the subscription's durable queue, which give grains the broker's delivery: a grain handler that
    /// throws has its message redelivered after <see cref="QueueOptions.Retry"/>, and after
    /// <see cref="QueueOptions.MaxDeliveryAttempts"/> it goes to <c>&lt;topic&gt;/&lt;subscription&gt;.dlq</c> with the reason.
    /// Default: 10 attempts, exponential backoff from 1 s to 1 min, lease 5 min (the provider renews it while an
    /// event waits for its consumers, for up to 1 hour; an event held longer is delivered again).
    /// </summary>
    public QueueOptions Subscription { get; set; } = new()
    {
        MaxDeliveryAttempts = 10,
        Retry = RetryPolicy.ExponentialBackoff(TimeSpan.FromSeconds(1), TimeSpan.FromMinutes(1)),
        LeaseDuration = TimeSpan.FromMinutes(5),
    };

    /// <summary>
    /// Most deliveries per topic one pulling agent holds unacknowledged (in its cache or with a grain); default 256,
    /// 1 to <see cref="BrokerLimits.MaxPrefetch"/>.
    /// </summary>
    public int Prefetch { get; set; } = DefaultPrefetch;

    /// <summary>
    /// Orleans queues, each with its own pulling agent, spread over the silos; all of them consume the same
    /// subscriptions as competing consumers. Default 1, which keeps the order of a stream's events; more agents
    /// deliver in parallel but may interleave events of one stream. 1 to 64.
    /// </summary>
    public int QueueCount { get; set; } = DefaultQueueCount;

    /// <summary>The subscription name in force for the provider <paramref name="providerName"/>.</summary>
    public string ResolveSubscriptionName(string providerName) => SubscriptionName ?? "orleans-" + providerName;

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) when a setting is out of range.</summary>
    public void Validate(string providerName)
    {
        foreach (var topic in Topics)
        {
            var problem = QueueName.Explain(topic);
            if (problem is not null || QueueName.IsSubscriptionQueue(topic))
            {
                throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Stream provider '{providerName}': topic '{topic}' is not a valid topic name. {problem}");
            }
        }

        var subscription = ResolveSubscriptionName(providerName);
        var badName = QueueName.Explain(subscription);
        if (badName is not null || QueueName.IsSubscriptionQueue(subscription))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Stream provider '{providerName}': subscription name '{subscription}' is not valid. {badName}");
        }

        if (Prefetch < 1 || Prefetch > BrokerLimits.MaxPrefetch)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Stream provider '{providerName}': Prefetch {Prefetch} is out of range 1..{BrokerLimits.MaxPrefetch}.");
        }

        if (QueueCount < 1 || QueueCount > 64)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Stream provider '{providerName}': QueueCount {QueueCount} is out of range 1..64.");
        }

        ArgumentNullException.ThrowIfNull(Filter);
        ArgumentNullException.ThrowIfNull(Subscription);
        Subscription.Validate($"{(Topics.Count > 0 ? Topics[0] : "topic")}/{subscription}");
    }
}
