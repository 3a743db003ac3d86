using System.Globalization;
using OrleansBroker.Messages;

namespace OrleansBroker.Queues;

/// <summary>
/// How a partitioned queue (<see cref="QueueOptions.Partitions"/> above 1) is laid out. Partition 0 is the queue's own
/// grain, named like the queue; partition <c>i</c> is the grain <c>&lt;queue&gt;~i</c>. A message's partition key is its
/// <see cref="BrokerMessage.OrderingKey"/>, else its producer-set <see cref="BrokerMessage.Id"/>; a keyed message goes to
/// partition <c>FNV-1a(key) mod count</c>, so one key's messages share a partition (order and deduplication hold) and
/// clients and silos agree without asking. The hash is part of the storage format and never changes.
/// </summary>
public static class QueuePartitions
{
    /// <summary>Separates a queue name from a partition index in a partition's grain name.</summary>
    public const char Separator = '~';

    /// <summary>The grain name of partition <paramref name="index"/> of <paramref name="queue"/>.</summary>
    public static string NameOf(string queue, int index) =>
        index == 0 ? queue : string.Create(CultureInfo.InvariantCulture, $"{queue}{Separator}{index}");

    /// <summary>Splits a grain name into the queue and the partition index (0 for a name without a partition suffix).</summary>
    public static (string Queue, int Index) Parse(string name)
    {
        var at = name.LastIndexOf(Separator);
        if (at > 0 && at < name.Length - 1 && name[at + 1] != '0'
            && int.TryParse(name.AsSpan(at + 1), NumberStyles.None, CultureInfo.InvariantCulture, out var index) && index < QueueOptions.MaxPartitions)
        {
            return (name[..at], index);
        }

        return (name, 0);
    }

    /// <summary>The key that places <paramref name="message"/>: its ordering key, else its producer-set id, else none (spread).</summary>
    public static string? KeyOf(BrokerMessage message) => message.OrderingKey ?? message.Id;

    /// <summary>The partition of <paramref name="key"/> in a queue of <paramref name="count"/> partitions.</summary>
    public static int Of(string key, int count) => count <= 1 ? 0 : (int)(Hash(key) % (uint)count);

    /// <summary>FNV-1a over the UTF-16 code units: stable across processes and runtimes, unlike <see cref="string.GetHashCode()"/>.</summary>
    public static uint Hash(string key)
    {
        var hash = 2166136261u;
        foreach (var c in key)
        {
            hash = (hash ^ c) * 16777619u;
        }

        return hash;
    }
}
