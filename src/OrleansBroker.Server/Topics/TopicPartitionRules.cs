using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;

namespace OrleansBroker.Server.Topics;

/// <summary>What a topic partition takes: partition 0 does the topic's administration for all; the others take only their own keys.</summary>
internal static class TopicPartitionRules
{
    /// <summary>Refuses <paramref name="action"/> on a partition other than 0, naming the topic to do it on.</summary>
    public static void RefuseAdmin(string topic, int partition, string action)
    {
        if (partition > 0)
        {
            throw new BrokerException(BrokerErrorCode.InvalidName,
                $"'{QueuePartitions.NameOf(topic, partition)}' is partition {partition} of topic '{topic}'; {action} '{topic}', which does it for every partition.");
        }
    }

    /// <summary>
    /// A partition other than 0 takes only the keys that are its own, so that a key's messages all pass through one grain in order;
    /// a client with a stale count is refused (nothing routed) and places them again. Partition 0 takes whatever reaches it.
    /// </summary>
    public static void RefuseKeysOfOthers(string topic, int partition, int count, IReadOnlyList<BrokerMessage> messages)
    {
        if (partition == 0)
        {
            return;
        }

        foreach (var message in messages)
        {
            if (QueuePartitions.KeyOf(message) is { } key && QueuePartitions.Of(key, count) is var owner && owner != partition)
            {
                throw new BrokerException(BrokerErrorCode.WrongPartition,
                    $"Message key '{key}' belongs to partition {owner} of topic '{topic}' ({count} partitions), not to partition {partition}; nothing of this publish was routed.");
            }
        }
    }
}
