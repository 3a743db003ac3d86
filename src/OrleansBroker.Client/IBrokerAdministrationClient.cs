using OrleansBroker.Queues;
using OrleansBroker.Topics;

namespace OrleansBroker.Client;

/// <summary>
/// The broker's management plane: create, inspect, grow, purge and delete queues and topics, manage subscriptions, redrive
/// dead letters. Thread-safe; registered with <c>AddBrokerClient()</c> beside <see cref="IBrokerClient"/>.
/// Every failure the broker reports is a <see cref="Errors.BrokerException"/>.
/// </summary>
/// <remarks>
/// Cancellation ends the caller's wait; a call the broker has begun finishes there (a create creates, a delete deletes),
/// except <see cref="RedriveAsync"/>, which stops after the batch under way.
/// </remarks>
public interface IBrokerAdministrationClient
{
    /// <summary>
    /// Creates a queue, or confirms it exists with the same options (default options when null). One that exists with other
    /// options fails with <c>QueueExistsWithOtherOptions</c>; see <see cref="BrokerAdministrationClientExtensions.CreateQueueIfMissingAsync(IBrokerAdministrationClient, string, CancellationToken)"/>.
    /// </summary>
    Task<QueueInfo> CreateQueueAsync(string queue, QueueOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>Depth, consumers, options and counters of a queue; <c>QueueNotFound</c> when there is none.</summary>
    Task<QueueInfo> GetQueueInfoAsync(string queue, CancellationToken cancellationToken = default);

    /// <summary>
    /// The figures of many queues, for lists: each of <paramref name="queues"/> that exists, in the order given (one that does
    /// not is left out). Unlike <see cref="GetQueueInfoAsync"/> for each, a queue not in memory is not loaded: its stored
    /// figures are given, with <see cref="QueueInfo.InMemory"/> false.
    /// </summary>
    Task<IReadOnlyList<QueueInfo>> GetQueueInfosAsync(IEnumerable<string> queues, CancellationToken cancellationToken = default);

    /// <summary>Names of all queues, sorted.</summary>
    Task<IReadOnlyList<string>> ListQueuesAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Grows a queue to <paramref name="partitions"/> partitions in place: a multiple of its count, up to 64. Per-key order is
    /// kept (the new partitions hold keyed messages until the old partition has settled those keys) and producers and consumers
    /// follow without a restart. Idempotent; after a failure, call it again with the same count.
    /// </summary>
    Task<QueueInfo> GrowPartitionsAsync(string queue, int partitions, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces a queue's push endpoint, or removes it with null, keeping its messages: to rotate a secret (the old and
    /// the new one first, then the new one alone) or point it elsewhere. A topic subscription's queue: see
    /// <see cref="SetSubscriptionPushAsync"/>.
    /// </summary>
    Task<QueueInfo> SetQueuePushAsync(string queue, PushEndpoint? push, CancellationToken cancellationToken = default);

    /// <summary>Removes all ready messages of a queue; returns how many.</summary>
    Task<long> PurgeQueueAsync(string queue, CancellationToken cancellationToken = default);

    /// <summary>Deletes a queue and its messages; its consumers stop with <c>QueueNotFound</c>.</summary>
    Task DeleteQueueAsync(string queue, CancellationToken cancellationToken = default);

    /// <summary>
    /// Sends messages of the dead-letter queue <paramref name="deadLetterQueue"/> back to the queues they
    /// came from, attempts starting again (all ready ones when <paramref name="request"/> is null).
    /// </summary>
    Task<RedriveResult> RedriveAsync(string deadLetterQueue, RedriveRequest? request = null, CancellationToken cancellationToken = default);

    /// <summary>Creates a topic (default options: no retention), or confirms it exists with the same options.</summary>
    Task<TopicInfo> CreateTopicAsync(string topic, TopicOptions? options = null, CancellationToken cancellationToken = default);

    /// <summary>A topic's subscriptions and counters; <c>TopicNotFound</c> when there is none.</summary>
    Task<TopicInfo> GetTopicInfoAsync(string topic, CancellationToken cancellationToken = default);

    /// <summary>Names of all topics, sorted.</summary>
    Task<IReadOnlyList<string>> ListTopicsAsync(CancellationToken cancellationToken = default);

    /// <summary>Deletes a topic with its subscriptions and their queues.</summary>
    Task DeleteTopicAsync(string topic, CancellationToken cancellationToken = default);

    /// <summary>
    /// Adds a subscription to a topic (or confirms it exists with the same filter and options). Its messages are in the
    /// queue <c>&lt;topic&gt;/&lt;subscription&gt;</c>: consume, peek, redrive it as any queue. On a retaining topic,
    /// <paramref name="replayFrom"/> also replays the retained messages published since then (<see cref="DateTimeOffset.MinValue"/> for all).
    /// </summary>
    Task<TopicInfo> CreateSubscriptionAsync(string topic, Subscription subscription, DateTimeOffset? replayFrom = null, CancellationToken cancellationToken = default);

    /// <summary>Purges a subscription's queue and delivers again the retained messages published at or after <paramref name="to"/> (retaining topics).</summary>
    Task SeekSubscriptionAsync(string topic, string subscription, DateTimeOffset to, CancellationToken cancellationToken = default);

    /// <summary>Replaces the push endpoint of a subscription's queue, or removes it with null, keeping its messages.</summary>
    Task<TopicInfo> SetSubscriptionPushAsync(string topic, string subscription, PushEndpoint? push, CancellationToken cancellationToken = default);

    /// <summary>Removes a subscription and deletes its queue.</summary>
    Task<TopicInfo> DeleteSubscriptionAsync(string topic, string subscription, CancellationToken cancellationToken = default);
}
