using OrleansBroker.Queues;
using OrleansBroker.Topics;

namespace OrleansBroker.Server.Topics;

/// <summary>
/// A partitioned topic's other partitions, as its partition 0 sees them: partition 0 holds the topic's administration and gives
/// every other partition the options and subscriptions (<see cref="SyncAsync"/>, stored by each before it returns), sums their
/// counters into the topic's, and deletes them first when the topic goes. A partition keeps what it is given with
/// <see cref="Take"/>.
/// </summary>
internal sealed class TopicPartitionSet(IGrainFactory grains, string topic)
{
    /// <summary>Partitions 1 to <c>count - 1</c>; none for an unpartitioned topic.</summary>
    public IEnumerable<ITopicPartitionGrain> Others(int count) =>
        Enumerable.Range(1, count - 1).Select(i => grains.GetGrain<ITopicPartitionGrain>(QueuePartitions.NameOf(topic, i)));

    /// <summary>Gives every other partition the topic's options and subscriptions; each has stored them when this completes.</summary>
    public Task SyncAsync(TopicState state)
    {
        var subscriptions = state.Subscriptions.Values.ToList();
        return Task.WhenAll(Others(state.Options.Partitions).Select(p => p.SyncPartition(state.Options, subscriptions, state.CreatedAt)));
    }

    /// <summary>On a partition other than 0: what partition 0 gave it, set on its state (the caller stores it).</summary>
    public static void Take(TopicState state, TopicOptions options, IReadOnlyList<Subscription> subscriptions, DateTimeOffset createdAt)
    {
        state.Created = true;
        state.CreatedAt = createdAt;
        state.Options = options;
        state.Subscriptions = subscriptions.ToDictionary(s => s.Name, StringComparer.Ordinal);
    }

    /// <summary>The topic's info with the counters of every partition summed; the subscriptions are the same in each.</summary>
    public async Task<TopicInfo> SumAsync(TopicInfo own, int count)
    {
        var others = await Task.WhenAll(Others(count).Select(p => p.GetPartitionInfo()));
        return own with { Published = own.Published + others.Sum(o => o.Published), Unrouted = own.Unrouted + others.Sum(o => o.Unrouted) };
    }

    /// <summary>Deletes every other partition's state (before partition 0's, so that a failure part-way leaves one that can delete again).</summary>
    public Task DeleteOthersAsync(int count) => Task.WhenAll(Others(count).Select(p => p.DeletePartition()));
}
