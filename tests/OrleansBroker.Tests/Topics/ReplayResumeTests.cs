using System.Text;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Tests.Storage;
using OrleansBroker.Topics;
using Xunit;

namespace OrleansBroker.Tests.Topics;

/// <summary>
/// A replay is stored with its topic and goes on from its cursor: here its subscription queue cannot store anything
/// (real SQLite files behind a storage whose writes the test fails), the silo restarts, and the replay still delivers
/// every retained message once, in order.
/// </summary>
public sealed class ReplayResumeTests : BrokerClusterTest
{
    protected override Task<BrokerCluster> StartAsync() => BrokerCluster.StartAsync(silo: FailingStorage.OverSqlite);

    [Fact]
    public async Task A_replay_cut_short_by_storage_and_a_restart_goes_on_and_delivers_each_message_once()
    {
        await Admin.CreateTopicAsync("feed", new TopicOptions { RetentionTime = TimeSpan.FromHours(1) });
        const int Count = 2_500;
        foreach (var chunk in Enumerable.Range(0, Count).Chunk(500))
        {
            await Broker.PublishBatchToTopicAsync("feed", [.. chunk.Select(i => new BrokerMessage($"m{i:D5}", Encoding.UTF8.GetBytes($"m{i}")))]);
        }

        var storage = FailingStorage.Of(Cluster);
        storage.OfGrains = grain => grain.Key.ToString() == "feed/late";
        storage.FailWrites = name => name.StartsWith('s');
        await Admin.CreateSubscriptionAsync("feed", new Subscription("late", SubscriptionFilter.All, new QueueOptions()), DateTimeOffset.MinValue);
        await Eventually.HoldsAsync(() => storage.Failures >= 2, "the replay failing to store and trying again");

        // A new silo over the same files, with storage that works: the stored replay goes on once the topic is active again.
        await Cluster.RestartSilosAsync();
        await Admin.GetTopicInfoAsync("feed");

        var delivered = await Broker.ReceiveAndAckAsync("feed/late", Count, prefetch: 100, timeout: TimeSpan.FromSeconds(120));
        Assert.Equal(Enumerable.Range(0, Count).Select(i => $"m{i:D5}"), delivered.Select(d => d.MessageId));
        var queue = await Admin.GetQueueInfoAsync("feed/late");
        Assert.Equal(Count, queue.Counters.Published);
        Assert.Equal(0, queue.Depth);
    }
}
