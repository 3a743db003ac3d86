using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using OrleansBroker.Errors;
using OrleansBroker.Queues;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Server.Log;
using OrleansBroker.Server.Queues;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Tests.Storage;
using Xunit;

namespace OrleansBroker.Tests.Queues;

/// <summary>The list of queues on the SQLite file: spread over bucket records, kept across restarts, moved from one record.</summary>
public sealed class QueueRegistryTests : BrokerClusterTest
{
    protected override Task<BrokerCluster> StartAsync() => BrokerCluster.StartAsync(silo: FailingStorage.OverSqlite);

    [Fact]
    public async Task Queues_created_together_are_listed_and_each_name_is_stored_in_its_bucket_only()
    {
        var names = Enumerable.Range(0, 600).Select(i => $"many-{i:D4}").ToList();
        await Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (name, ct) => await Admin.CreateQueueAsync(name, cancellationToken: ct));

        Assert.Equal(names, await Admin.ListQueuesAsync());
        var buckets = await ReadBucketsAsync();
        Assert.Equal(names, buckets.SelectMany(b => b.Value).Order(StringComparer.Ordinal));
        Assert.All(buckets, b => Assert.All(b.Value, name => Assert.Equal(b.Key, QueueRegistryGrain.BucketOf(name))));

        // Spread: no bucket holds more than a few times its share.
        Assert.True(buckets.Values.Max(b => b.Count) < 4 * names.Count / QueueRegistryGrain.Buckets, $"largest bucket: {buckets.Values.Max(b => b.Count)} names");

        var deleted = names.Where((_, i) => i % 6 == 0).ToList();
        await Parallel.ForEachAsync(deleted, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (name, ct) => await Admin.DeleteQueueAsync(name, ct));
        var kept = names.Except(deleted).ToList();
        Assert.Equal(kept, await Admin.ListQueuesAsync());

        await Cluster.RestartSilosAsync();
        Assert.Equal(kept, await Admin.ListQueuesAsync());
    }

    [Fact]
    public async Task A_list_kept_in_one_record_is_moved_into_the_buckets()
    {
        // How an older version stored the list: every name in one record, rewritten whole on every change.
        await Admin.CreateQueueAsync("current");
        var registry = Cluster.Grains.GetGrain<IQueueRegistryGrain>(IQueueRegistryGrain.Queues).GetGrainId();
        var single = new StoredRecord<QueueRegistryState>();
        single.State.Names.UnionWith(["older-a", "older-b", "current"]);
        await Storage.WriteStateAsync(QueueRegistryGrain.SingleRecordName, registry, single);

        await Cluster.RestartSilosAsync();

        Assert.Equal(["current", "older-a", "older-b"], await Admin.ListQueuesAsync());
        var left = new StoredRecord<QueueRegistryState>();
        await Storage.ReadStateAsync(QueueRegistryGrain.SingleRecordName, registry, left);
        Assert.False(left.RecordExists);
        Assert.Equal(["current", "older-a", "older-b"], (await ReadBucketsAsync()).SelectMany(b => b.Value).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task A_create_whose_name_could_not_be_stored_fails_and_succeeds_once_storage_is_back()
    {
        await Admin.CreateQueueAsync("stored-before");
        var registry = Cluster.Grains.GetGrain<IQueueRegistryGrain>(IQueueRegistryGrain.Queues).GetGrainId();
        var failing = FailingStorage.Of(Cluster);
        failing.OfGrains = grain => grain == registry;
        failing.FailWrites = name => name.StartsWith("names-", StringComparison.Ordinal);

        var error = await Assert.ThrowsAsync<BrokerException>(() => Admin.CreateQueueAsync("while-down"));
        Assert.Equal(BrokerErrorCode.StorageUnavailable, error.Code);

        failing.FailWrites = null;
        await Admin.CreateQueueAsync("while-down");
        Assert.Equal(["stored-before", "while-down"], await Admin.ListQueuesAsync());
        await Cluster.RestartSilosAsync();
        Assert.Equal(["stored-before", "while-down"], await Admin.ListQueuesAsync());
    }

    private IGrainStorage Storage => Cluster.SiloServices.GetRequiredKeyedService<IGrainStorage>(BrokerOptions.StateStorageProviderName);

    /// <summary>The names each bucket record of the queue registry holds, as stored.</summary>
    private async Task<Dictionary<int, HashSet<string>>> ReadBucketsAsync()
    {
        var registry = Cluster.Grains.GetGrain<IQueueRegistryGrain>(IQueueRegistryGrain.Queues).GetGrainId();
        var buckets = new Dictionary<int, HashSet<string>>();
        for (var bucket = 0; bucket < QueueRegistryGrain.Buckets; bucket++)
        {
            var record = new StoredRecord<QueueRegistryState>();
            await Storage.ReadStateAsync(QueueRegistryGrain.BucketName(bucket), registry, record);
            buckets[bucket] = record.State.Names;
        }

        return buckets;
    }
}
