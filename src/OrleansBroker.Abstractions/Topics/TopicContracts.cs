using OrleansBroker.Messages;
using OrleansBroker.Queues;

namespace OrleansBroker.Topics;

/// <summary>A subscription of a topic: its name, which messages it takes, and the options of its durable queue.</summary>
/// <param name="Name">Subscription name (queue naming rules); its queue is <c>&lt;topic&gt;/&lt;name&gt;</c>.</param>
/// <param name="Filter">Which messages it takes; <see cref="SubscriptionFilter.All"/> for every one.</param>
/// <param name="Queue">Options of its queue: lease, attempts, retries, dead-lettering, limits, as any queue.</param>
/// <param name="Transform">
/// A named transform applied on the way into its queue, or null. A message the transform fails on goes to the
/// subscription's dead-letter queue with the reason; the publish and the other subscriptions are unaffected.
/// </param>
[GenerateSerializer, Immutable, Alias("ob.subscription")]
public sealed record Subscription(
    [property: Id(0)] string Name,
    [property: Id(1)] SubscriptionFilter Filter,
    [property: Id(2)] QueueOptions Queue,
    [property: Id(3)] SubscriptionTransform? Transform = null)
{
    /// <summary>The queue that holds this subscription's messages on <paramref name="topic"/>.</summary>
    public string QueueName(string topic) => $"{topic}/{Name}";
}

/// <summary>
/// A transform by the name a silo registered it under, with its settings. Built in: <c>cloudevents-wrap</c>
/// (<c>mode</c> structured|binary, <c>type</c>, <c>source</c>), <c>cloudevents-unwrap</c>, <c>json-project</c>
/// (<c>keep</c>, <c>drop</c>, <c>rename</c> as <c>old:new</c>), <c>header-enrich</c> (<c>headers</c> as
/// <c>header</c> or <c>header:field</c>), <c>content-type</c> (<c>to</c>: text/plain or application/json).
/// Lists are comma-separated.
/// </summary>
[GenerateSerializer, Immutable, Alias("ob.subscription-transform")]
public sealed record SubscriptionTransform(
    [property: Id(0)] string Name,
    [property: Id(1)] IReadOnlyDictionary<string, string>? Settings = null)
{
    /// <summary>Equal when the names and the settings (in any order) are.</summary>
    public bool Equals(SubscriptionTransform? other)
    {
        if (other is null || Name != other.Name)
        {
            return false;
        }

        var mine = Settings ?? new Dictionary<string, string>();
        var theirs = other.Settings ?? new Dictionary<string, string>();
        return mine.Count == theirs.Count && mine.All(p => theirs.TryGetValue(p.Key, out var value) && value == p.Value);
    }

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Name, Settings?.Count ?? 0);
}

/// <summary>
/// Options fixed when a topic is created. With retention the topic keeps every message it is published (in
/// the hidden queue <c>&lt;topic&gt;/retained</c>) for <see cref="RetentionTime"/> and/or up to
/// <see cref="RetentionBytes"/>, oldest dropped first, so that subscriptions can replay from a point in time.
/// </summary>
[GenerateSerializer, Immutable, Alias("ob.topic-options")]
public sealed record TopicOptions
{
    /// <summary>The subscription name a retaining topic uses for its own queue; not available to subscriptions.</summary>
    public const string RetainedSubscription = "retained";

    /// <summary>How long messages are kept for replay; null (default) for no limit by time. Above 0, at most 365 days.</summary>
    [Id(0)]
    public TimeSpan? RetentionTime { get; init; }

    /// <summary>Most body bytes kept for replay, oldest dropped first; null (default) for no limit by size.</summary>
    [Id(1)]
    public long? RetentionBytes { get; init; }

    /// <summary>
    /// Topic grains the topic's routing is split into (1 to <see cref="QueueOptions.MaxPartitions"/>, default 1): partition 0 is the
    /// topic's own grain, partition i is <c>topic~i</c>, placed on consecutive silos. A publish with an ordering key (else an id)
    /// is routed by the partition of the key's hash, so a key's messages keep their order even when a producer pipelines them;
    /// others are spread. Every partition routes to the same subscriptions. Fixed at creation.
    /// </summary>
    [Id(2)]
    public int Partitions { get; init; } = 1;

    /// <summary>Whether the topic retains messages (either limit set).</summary>
    public bool Retains => RetentionTime is not null || RetentionBytes is not null;

    /// <summary>Throws <see cref="Errors.BrokerException"/> (<c>InvalidOptions</c>) when out of range.</summary>
    public void Validate()
    {
        if (RetentionTime is { } time && (time <= TimeSpan.Zero || time > BrokerLimits.MaxTimeToLive))
        {
            throw new Errors.BrokerException(Errors.BrokerErrorCode.InvalidOptions, $"RetentionTime {time} is out of range; above 0 and at most {BrokerLimits.MaxTimeToLive}, or null.");
        }

        if (RetentionBytes is < 1)
        {
            throw new Errors.BrokerException(Errors.BrokerErrorCode.InvalidOptions, "RetentionBytes must be at least 1, or null.");
        }

        if (Partitions < 1 || Partitions > QueueOptions.MaxPartitions)
        {
            throw new Errors.BrokerException(Errors.BrokerErrorCode.InvalidOptions, $"Partitions {Partitions} is out of range 1 to {QueueOptions.MaxPartitions}.");
        }
    }

    /// <summary>Options of the retention queue: unconsumed, expiring after the retention time, oldest dropped past the byte limit.</summary>
    public QueueOptions RetentionQueue() => new()
    {
        MaxDeliveryAttempts = 0,
        DeadLetterQueue = "",
        DefaultTimeToLive = RetentionTime,
        MaxBytes = RetentionBytes,
        Overflow = OverflowPolicy.DropOldest,
    };
}

/// <summary>A topic's subscriptions and counters.</summary>
/// <param name="Name">Topic name.</param>
/// <param name="Subscriptions">Its subscriptions, by name.</param>
/// <param name="Published">Messages published to it.</param>
/// <param name="Unrouted">Of those, messages no subscription took.</param>
/// <param name="CreatedAt">When it was created.</param>
/// <param name="Options">Options it was created with (retention).</param>
[GenerateSerializer, Immutable, Alias("ob.topic-info")]
public sealed record TopicInfo(
    [property: Id(0)] string Name,
    [property: Id(1)] IReadOnlyList<Subscription> Subscriptions,
    [property: Id(2)] long Published,
    [property: Id(3)] long Unrouted,
    [property: Id(4)] DateTimeOffset CreatedAt,
    [property: Id(5)] TopicOptions? Options = null);

/// <summary>Returned once a message published to a topic is durably held by every subscription it matched.</summary>
/// <param name="MessageId">The producer's id or the one the broker generated; the same in every subscription.</param>
/// <param name="Subscriptions">Names of the subscriptions that took it (empty: none matched, nothing stored).</param>
/// <param name="DeadLettered">Of those, the ones whose transform failed on it: it is in their dead-letter queue instead.</param>
[GenerateSerializer, Immutable, Alias("ob.topic-receipt")]
public sealed record TopicReceipt(
    [property: Id(0)] string MessageId,
    [property: Id(1)] IReadOnlyList<string> Subscriptions,
    [property: Id(2)] IReadOnlyList<string>? DeadLettered = null);

/// <summary>
/// A topic: a durable set of subscriptions, each a durable queue. Publishing routes a message to every
/// subscription whose filter it matches and returns once each holds it. Every method but
/// <see cref="Create"/> fails with <c>TopicNotFound</c> until the topic is created.
/// </summary>
[Alias("ob.ITopicGrain")]
public interface ITopicGrain : IGrainWithStringKey
{
    /// <summary>Creates the topic; a no-op if it exists with the same options, <c>QueueExistsWithOtherOptions</c> if with others.</summary>
    [Alias("create")]
    Task<TopicInfo> Create(TopicOptions options);

    /// <summary>Its subscriptions and counters.</summary>
    [Alias("info")]
    Task<TopicInfo> GetInfo();

    /// <summary>How many partitions the topic has (see <see cref="TopicOptions.Partitions"/>); clients ask once and route by key.</summary>
    [Alias("partitions")]
    Task<int> GetPartitions();

    /// <summary>
    /// Adds (or confirms) a subscription and creates its queue. A subscription that exists with another
    /// filter or queue options fails with <c>QueueExistsWithOtherOptions</c>. A bad filter fails with <c>InvalidFilter</c>.
    /// It receives messages published from now on and, with <paramref name="replayFrom"/> on a retaining topic, the
    /// retained messages published since then (<see cref="DateTimeOffset.MinValue"/>: all of them), replayed in the
    /// background through its filter and transform.
    /// </summary>
    [Alias("subscribe")]
    Task<TopicInfo> Subscribe(Subscription subscription, DateTimeOffset? replayFrom);

    /// <summary>
    /// Re-seeks a subscription, as Pub/Sub's seek: its queue is purged and the retained messages published at or after
    /// <paramref name="to"/> are delivered again (in the background). Needs a retaining topic.
    /// </summary>
    [Alias("seek")]
    Task Seek(string subscription, DateTimeOffset to);

    /// <summary>
    /// Changes which messages a subscription takes from now on, keeping its queue and the messages already in it (as adding
    /// or removing a binding of a RabbitMQ queue). Every partition routes by the new filter before this returns. An unknown
    /// subscription fails with <c>QueueNotFound</c>, a bad filter with <c>InvalidFilter</c>.
    /// </summary>
    [Alias("change-filter")]
    Task<TopicInfo> ChangeFilter(string subscription, SubscriptionFilter filter);

    /// <summary>
    /// Replaces the push endpoint of a subscription's queue, or removes it with null, keeping its messages (see
    /// <see cref="Queues.IQueueGrain.SetPush"/>). An unknown subscription fails with <c>QueueNotFound</c>.
    /// </summary>
    [Alias("change-push")]
    Task<TopicInfo> ChangePush(string subscription, Queues.PushEndpoint? push);

    /// <summary>Removes a subscription and deletes its queue with the messages in it.</summary>
    [Alias("unsubscribe")]
    Task<TopicInfo> Unsubscribe(string subscription);

    /// <summary>Deletes the topic and every subscription queue.</summary>
    [Alias("delete")]
    Task Delete();

    /// <summary>
    /// Routes one message; completes when every matching subscription holds it durably. Takes no cancellation token, as
    /// <see cref="IQueueGrain.Publish"/>: a fan-out that has begun finishes.
    /// </summary>
    [Alias("publish")]
    Task<TopicReceipt> Publish(BrokerMessage message);

    /// <summary>Routes up to 1000 messages, one receipt each, in order; completes when every matching subscription holds its messages.</summary>
    [Alias("publish-batch")]
    Task<IReadOnlyList<TopicReceipt>> PublishBatch(IReadOnlyList<BrokerMessage> messages);
}
