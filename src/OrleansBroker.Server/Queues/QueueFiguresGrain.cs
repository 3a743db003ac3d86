using Microsoft.Extensions.DependencyInjection;
using Orleans.Concurrency;
using Orleans.Storage;
using OrleansBroker.Errors;
using OrleansBroker.Queues;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Server.Log;
using OrleansBroker.Server.Queues.Partitions;
using OrleansBroker.Server.Storage;

namespace OrleansBroker.Server.Queues;

/// <summary>
/// Figures of many queues for lists (<see cref="IQueueFiguresGrain"/>), without loading the ones not in memory: it takes the
/// cluster's active queue grains from Orleans' management grain (no queue is called for that), asks those, and reads the
/// others' metadata record (<c>meta</c>), which every commit rewrites with the queue's live count, bytes, counters and the
/// deliveries a graceful deactivation handed over; a partitioned queue none of whose partitions is in memory is summed from
/// each partition's record. A queue with a push endpoint, a log too old to keep its counts, and a partitioned queue with
/// a partition in memory or a growth under way are asked (which loads them): a push queue stays in memory anyway.
/// </summary>
/// <remarks>
/// A worker on each silo (a call runs on the silo it arrives at), reentrant, keeping no state: each call takes the list of
/// active queues once (one call to each silo, however many queues it names) and reads the records of the others together
/// (<see cref="IRecordBatchReader"/>). A queue activated while the call runs is read from storage: its figures are those of
/// its last commit.
/// </remarks>
[StatelessWorker]
[Reentrant]
internal sealed class QueueFiguresGrain(IServiceProvider services, TimeProvider time) : Grain, IQueueFiguresGrain
{
    /// <summary>Queues in memory asked at once by one call.</summary>
    public const int Concurrency = 32;

    /// <summary>The broker's storage as grains with <c>[PersistentState]</c> see it: a failure reaches the caller as <c>StorageUnavailable</c>.</summary>
    private readonly IRecordBatchReader _storage = (IRecordBatchReader)services.GetRequiredKeyedService<IGrainStorage>(BrokerOptions.StateStorageProviderName);

    public async Task<IReadOnlyList<QueueInfo>> GetInfos(IReadOnlyList<string> queues)
    {
        if (queues.Count == 0)
        {
            return [];
        }

        var active = await ActiveQueuesAsync();

        // The records of the queues not in memory, read together (one query per few hundred on SQLite).
        var idle = queues.Where(queue => !active.Contains(queue)).Distinct(StringComparer.Ordinal).ToList();
        var records = await _storage.ReadManyAsync<LogMeta>(LogRecordStore.MetaName, [.. idle.Select(GrainIdOf)]);
        var stored = new Dictionary<string, LogMeta?>(StringComparer.Ordinal);
        foreach (var (queue, record) in idle.Zip(records))
        {
            stored[queue] = Created(record);
        }

        var infos = new QueueInfo?[queues.Count];
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, Math.Min(Concurrency, queues.Count)).Select(async _ =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < queues.Count)
            {
                infos[i] = await InfoAsync(queues[i], active, stored);
            }
        }));
        return [.. infos.OfType<QueueInfo>()];
    }

    /// <summary>The figures of one queue: asked when in memory or when its record cannot answer; null when there is no such queue.</summary>
    private async Task<QueueInfo?> InfoAsync(string queue, HashSet<string> active, Dictionary<string, LogMeta?> stored)
    {
        if (active.Contains(queue))
        {
            return await AskAsync(queue);
        }

        var meta = stored[queue];
        if (meta is null)
        {
            return null;
        }

        var now = time.GetUtcNow();
        if (FromStored(queue, meta, now) is not { } first)
        {
            return await AskAsync(queue);
        }

        if (meta.Options.Partitions <= 1)
        {
            return first;
        }

        // A partitioned queue is summed here only while none of its partitions is in memory and no growth is under way.
        var others = Enumerable.Range(1, meta.Options.Partitions - 1).Select(i => QueuePartitions.NameOf(queue, i)).ToList();
        if (meta.GrowingTo > 0 || others.Any(active.Contains))
        {
            return await AskAsync(queue);
        }

        var partitions = new List<PartitionSnapshot> { new(first, "", meta.HeldForGrowth) };
        var records = await _storage.ReadManyAsync<LogMeta>(LogRecordStore.MetaName, [.. others.Select(GrainIdOf)]);
        foreach (var (name, record) in others.Zip(records))
        {
            if (Created(record) is not { } partition || FromStored(name, partition, now) is not { } info)
            {
                return await AskAsync(queue);
            }

            partitions.Add(new PartitionSnapshot(info, "", partition.HeldForGrowth));
        }

        return PartitionSet.Sum(queue, meta.Options, meta.CreatedAt, partitions);
    }

    /// <summary>The grain id of a queue grain (a partition's by its grain name), under which its records are stored.</summary>
    private GrainId GrainIdOf(string grain) => GrainFactory.GetGrain<IQueueGrain>(grain).GetGrainId();

    /// <summary>The metadata of a record that holds a created queue, or null.</summary>
    private static LogMeta? Created(StoredRecord<LogMeta> record) => record.RecordExists && record.State.Created ? record.State : null;

    /// <summary>
    /// A queue partition's figures from its stored metadata, or null where that cannot give them (asked instead): a queue with a
    /// push endpoint (its status lives in memory), a log written before its live count and bytes were kept.
    /// </summary>
    public static QueueInfo? FromStored(string queue, LogMeta meta, DateTimeOffset now)
    {
        if (meta.Options.Push is not null || !meta.LiveCounted || !meta.BytesCounted)
        {
            return null;
        }

        // Deliveries a graceful deactivation handed over are still out until they expire; after that they are ready again.
        var ticks = now.UtcTicks;
        var handedOut = meta.Leases.Count(lease => lease.ExpiresAtTicks > ticks);
        return new QueueInfo(queue, meta.Options.Redacted(), meta.Live - handedOut, handedOut, 0, meta.Counters, meta.CreatedAt, 0, meta.LiveBytes) { InMemory = false };
    }

    private async Task<QueueInfo?> AskAsync(string queue)
    {
        try
        {
            return await GrainFactory.GetGrain<IQueueGrain>(queue).GetInfo();
        }
        catch (BrokerException error) when (error.Code == BrokerErrorCode.QueueNotFound)
        {
            return null;
        }
    }

    /// <summary>The names of the queue grains active in the cluster now (partitions other than 0 included).</summary>
    private async Task<HashSet<string>> ActiveQueuesAsync()
    {
        var type = GrainFactory.GetGrain<IQueueGrain>("_").GetGrainId().Type;
        var grains = await GrainFactory.GetGrain<IManagementGrain>(0).GetActiveGrains(type);
        return grains.Select(grain => grain.Key.ToString()!).ToHashSet(StringComparer.Ordinal);
    }
}
