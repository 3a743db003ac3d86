using OrleansBroker.Queues;
using OrleansBroker.Topics;

namespace OrleansBroker.Client;

/// <summary>The <see cref="IBrokerAdministrationClient"/> over an Orleans cluster client.</summary>
internal sealed class BrokerAdministrationClient(IClusterClient cluster) : IBrokerAdministrationClient
{
    public Task<QueueInfo> CreateQueueAsync(string queue, QueueOptions? options = null, CancellationToken cancellationToken = default) =>
        Queue(queue).Create(options ?? new QueueOptions()).WaitAsync(cancellationToken);

    public Task<QueueInfo> GetQueueInfoAsync(string queue, CancellationToken cancellationToken = default) =>
        Queue(queue).GetInfo().WaitAsync(cancellationToken);

    public Task<IReadOnlyList<string>> ListQueuesAsync(CancellationToken cancellationToken = default) =>
        cluster.GetGrain<IQueueRegistryGrain>(IQueueRegistryGrain.Queues).List().WaitAsync(cancellationToken);

    public Task<QueueInfo> GrowPartitionsAsync(string queue, int partitions, CancellationToken cancellationToken = default) =>
        Queue(queue).GrowPartitions(partitions).WaitAsync(cancellationToken);

    public Task<QueueInfo> SetQueuePushAsync(string queue, PushEndpoint? push, CancellationToken cancellationToken = default) =>
        Queue(queue).SetPush(push).WaitAsync(cancellationToken);

    public Task<TopicInfo> SetSubscriptionPushAsync(string topic, string subscription, PushEndpoint? push, CancellationToken cancellationToken = default) =>
        Topic(topic).ChangePush(subscription, push).WaitAsync(cancellationToken);

    public Task<long> PurgeQueueAsync(string queue, CancellationToken cancellationToken = default) =>
        Queue(queue).Purge().WaitAsync(cancellationToken);

    public Task DeleteQueueAsync(string queue, CancellationToken cancellationToken = default) =>
        Queue(queue).Delete().WaitAsync(cancellationToken);

    public Task<RedriveResult> RedriveAsync(string deadLetterQueue, RedriveRequest? request = null, CancellationToken cancellationToken = default) =>
        Queue(deadLetterQueue).Redrive(request ?? new RedriveRequest(), cancellationToken).WaitAsync(cancellationToken);

    public Task<TopicInfo> CreateTopicAsync(string topic, TopicOptions? options = null, CancellationToken cancellationToken = default) =>
        Topic(topic).Create(options ?? new TopicOptions()).WaitAsync(cancellationToken);

    public Task<TopicInfo> GetTopicInfoAsync(string topic, CancellationToken cancellationToken = default) =>
        Topic(topic).GetInfo().WaitAsync(cancellationToken);

    public Task<IReadOnlyList<string>> ListTopicsAsync(CancellationToken cancellationToken = default) =>
        cluster.GetGrain<IQueueRegistryGrain>(IQueueRegistryGrain.Topics).List().WaitAsync(cancellationToken);

    public Task DeleteTopicAsync(string topic, CancellationToken cancellationToken = default) =>
        Topic(topic).Delete().WaitAsync(cancellationToken);

    public Task<TopicInfo> CreateSubscriptionAsync(string topic, Subscription subscription, DateTimeOffset? replayFrom = null, CancellationToken cancellationToken = default) =>
        Topic(topic).Subscribe(subscription, replayFrom).WaitAsync(cancellationToken);

    public Task SeekSubscriptionAsync(string topic, string subscription, DateTimeOffset to, CancellationToken cancellationToken = default) =>
        Topic(topic).Seek(subscription, to).WaitAsync(cancellationToken);

    public Task<TopicInfo> DeleteSubscriptionAsync(string topic, string subscription, CancellationToken cancellationToken = default) =>
        Topic(topic).Unsubscribe(subscription).WaitAsync(cancellationToken);

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
