using OrleansBroker.Queues;
using OrleansBroker.Topics;

namespace OrleansBroker.Client;

/// <summary>The <see cref="IBrokerAdministrationClient"/> over an Orleans cluster client.</summary>
/// <remarks>
/// Calls that answer at once are watched by <see cref="SiloLossWatch"/>; those that may run long by design (redrive, purge,
/// partition growth, subscribing with a replay, seeking) wait for their answer or Orleans' response timeout.
/// </remarks>
internal sealed class BrokerAdministrationClient(IClusterClient cluster, SiloLossWatch siloLoss) : IBrokerAdministrationClient
{
    public Task<QueueInfo> CreateQueueAsync(string queue, QueueOptions? options = null, CancellationToken cancellationToken = default) =>
        siloLoss.Await(Queue(queue).Create(options ?? new QueueOptions()), cancellationToken);

    public Task<QueueInfo> GetQueueInfoAsync(string queue, CancellationToken cancellationToken = default) =>
        siloLoss.Await(Queue(queue).GetInfo(), cancellationToken);

    /// <summary>Names per call of <see cref="GetQueueInfosAsync"/>: a list of any length goes in calls of this many, one after another.</summary>
    public const int QueueInfosPerCall = 10_000;

    public async Task<IReadOnlyList<QueueInfo>> GetQueueInfosAsync(IEnumerable<string> queues, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(queues);
        var figures = cluster.GetGrain<IQueueFiguresGrain>(0);
        var infos = new List<QueueInfo>();
        foreach (var chunk in queues.Chunk(QueueInfosPerCall))
        {
            infos.AddRange(await siloLoss.Await(figures.GetInfos(chunk), cancellationToken));
        }

        return infos;
    }

    public Task<IReadOnlyList<string>> ListQueuesAsync(CancellationToken cancellationToken = default) =>
        siloLoss.Await(cluster.GetGrain<IQueueRegistryGrain>(IQueueRegistryGrain.Queues).List(), cancellationToken);

    public Task<QueueInfo> GrowPartitionsAsync(string queue, int partitions, CancellationToken cancellationToken = default) =>
        Queue(queue).GrowPartitions(partitions).WaitAsync(cancellationToken);

    public Task<QueueInfo> SetQueuePushAsync(string queue, PushEndpoint? push, CancellationToken cancellationToken = default) =>
        siloLoss.Await(Queue(queue).SetPush(push), cancellationToken);

    public Task<TopicInfo> SetSubscriptionPushAsync(string topic, string subscription, PushEndpoint? push, CancellationToken cancellationToken = default) =>
        siloLoss.Await(Topic(topic).ChangePush(subscription, push), cancellationToken);

    public Task<long> PurgeQueueAsync(string queue, CancellationToken cancellationToken = default) =>
        Queue(queue).Purge().WaitAsync(cancellationToken);

    public Task DeleteQueueAsync(string queue, CancellationToken cancellationToken = default) =>
        siloLoss.Await(Queue(queue).Delete(), cancellationToken);

    public Task<RedriveResult> RedriveAsync(string deadLetterQueue, RedriveRequest? request = null, CancellationToken cancellationToken = default) =>
        Queue(deadLetterQueue).Redrive(request ?? new RedriveRequest(), cancellationToken).WaitAsync(cancellationToken);

    public Task<TopicInfo> CreateTopicAsync(string topic, TopicOptions? options = null, CancellationToken cancellationToken = default) =>
        siloLoss.Await(Topic(topic).Create(options ?? new TopicOptions()), cancellationToken);

    public Task<TopicInfo> GetTopicInfoAsync(string topic, CancellationToken cancellationToken = default) =>
        siloLoss.Await(Topic(topic).GetInfo(), cancellationToken);

    public Task<IReadOnlyList<string>> ListTopicsAsync(CancellationToken cancellationToken = default) =>
        siloLoss.Await(cluster.GetGrain<IQueueRegistryGrain>(IQueueRegistryGrain.Topics).List(), cancellationToken);

    public Task DeleteTopicAsync(string topic, CancellationToken cancellationToken = default) =>
        siloLoss.Await(Topic(topic).Delete(), cancellationToken);

    public Task<TopicInfo> CreateSubscriptionAsync(string topic, Subscription subscription, DateTimeOffset? replayFrom = null, CancellationToken cancellationToken = default) =>
        Topic(topic).Subscribe(subscription, replayFrom).WaitAsync(cancellationToken);

    public Task SeekSubscriptionAsync(string topic, string subscription, DateTimeOffset to, CancellationToken cancellationToken = default) =>
        Topic(topic).Seek(subscription, to).WaitAsync(cancellationToken);

    public Task<TopicInfo> DeleteSubscriptionAsync(string topic, string subscription, CancellationToken cancellationToken = default) =>
        siloLoss.Await(Topic(topic).Unsubscribe(subscription), cancellationToken);

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
