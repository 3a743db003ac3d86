using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Log;
using OrleansBroker.Server.Queues;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Queues;

/// <summary>
/// Lists read the figures of queues not in memory from storage (SQLite here) and leave them there, so that a console
/// refresh over many idle queues does not load them all.
/// </summary>
public sealed class QueueFiguresTests : BrokerClusterTest
{
    [Fact]
    public async Task A_queue_not_in_memory_is_listed_with_its_stored_figures_and_stays_out_of_memory_until_it_is_used()
    {
        await Admin.CreateQueueAsync("figures-idle");
        await Admin.CreateQueueAsync("figures-parted", new QueueOptions { Partitions = 2 });
        foreach (var size in new[] { 10, 20, 30 })
        {
            await Broker.PublishAsync("figures-idle", new BrokerMessage($"m{size}", new byte[size]));
        }

        await Broker.PublishAsync("figures-parted", new BrokerMessage("p", [1]));
        var first = Assert.Single(await Broker.ReceiveAsync("figures-idle"));
        await Broker.CompleteAsync(first);
        var before = await Admin.GetQueueInfoAsync("figures-idle");
        var partedBefore = await Admin.GetQueueInfoAsync("figures-parted");
        Assert.Equal((2, 50), (before.Ready, before.Bytes));

        await Cluster.DeactivateIdleQueuesAsync();
        var infos = await Admin.GetQueueInfosAsync(["figures-idle", "figures-never-made", "figures-parted"]);

        Assert.Equal(["figures-idle", "figures-parted"], infos.Select(i => i.Name));
        var idle = infos[0];
        Assert.False(idle.InMemory);
        Assert.Equal((2L, 0L, 0, 50L), (idle.Ready, idle.InFlight, idle.Consumers, idle.Bytes));
        Assert.Equal(before.Counters, idle.Counters);
        Assert.Equal(before.Options, idle.Options);
        Assert.Equal(before.CreatedAt, idle.CreatedAt);
        Assert.DoesNotContain("figures-idle", await ActiveQueuesAsync());

        // A partitioned queue none of whose partitions is in memory is summed from their records, as its first partition would.
        var parted = infos[1];
        Assert.False(parted.InMemory);
        Assert.Equal((1L, partedBefore.Bytes), (parted.Ready, parted.Bytes));
        Assert.Equal(partedBefore.Counters, parted.Counters);
        Assert.Equal(partedBefore.Partitions!.Select(p => (p.Name, p.Ready)), parted.Partitions!.Select(p => (p.Name, p.Ready)));
        Assert.All(parted.Partitions!, p => Assert.Equal("", p.Silo));
        Assert.Equal(0, await Cluster.QueueActivationsAsync());

        // With one partition in memory, the queue is asked (its first partition sums the others, each with its silo).
        await Admin.GetQueueInfoAsync("figures-parted");
        var asked = Assert.Single(await Admin.GetQueueInfosAsync(["figures-parted"]));
        Assert.True(asked.InMemory);
        Assert.All(asked.Partitions!, p => Assert.NotEqual("", p.Silo));

        // Used again, it is in memory and answers itself, with the delivery now out.
        var second = Assert.Single(await Broker.ReceiveAsync("figures-idle"));
        var again = Assert.Single(await Admin.GetQueueInfosAsync(["figures-idle"]));
        Assert.True(again.InMemory);
        Assert.Equal((1L, 1L), (again.Ready, again.InFlight));
        await Broker.CompleteAsync(second);
    }

    [Fact]
    public async Task A_deleted_queue_is_left_out_whether_in_memory_or_not()
    {
        await Admin.CreateQueueAsync("figures-gone");
        await Admin.CreateQueueAsync("figures-kept");
        await Admin.DeleteQueueAsync("figures-gone");
        Assert.Equal(["figures-kept"], (await Admin.GetQueueInfosAsync(["figures-gone", "figures-kept"])).Select(i => i.Name));

        await Cluster.DeactivateIdleQueuesAsync();
        Assert.Equal(["figures-kept"], (await Admin.GetQueueInfosAsync(["figures-gone", "figures-kept"])).Select(i => i.Name));
        Assert.Empty(await Admin.GetQueueInfosAsync([]));
    }

    private async Task<HashSet<string>> ActiveQueuesAsync()
    {
        var type = Cluster.Grains.GetGrain<IQueueGrain>("_").GetGrainId().Type;
        return [.. (await Cluster.Grains.GetGrain<IManagementGrain>(0).GetActiveGrains(type)).Select(g => g.Key.ToString()!)];
    }
}

/// <summary>How stored metadata becomes a queue's figures: logic only.</summary>
public sealed class StoredQueueFiguresTests
{
    private static readonly DateTimeOffset Now = new(2026, 12, 7, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public void Deliveries_handed_over_on_shutdown_count_as_in_flight_until_they_expire_then_as_ready()
    {
        var meta = new LogMeta
        {
            Created = true,
            LiveCounted = true,
            BytesCounted = true,
            Live = 5,
            LiveBytes = 500,
            CreatedAt = Now.AddDays(-1),
            Counters = new QueueCounters(9, 6, 1, 4, 0, 0),
            Leases = [new HandedOffLease(1, "c", 1, Now.AddSeconds(30).UtcTicks), new HandedOffLease(2, "c", 2, Now.AddSeconds(-1).UtcTicks)],
        };

        var info = QueueFiguresGrain.FromStored("q", meta, Now)!;

        Assert.False(info.InMemory);
        Assert.Equal((4L, 1L, 5L, 500L, 0, 0L), (info.Ready, info.InFlight, info.Depth, info.Bytes, info.Consumers, info.Delayed));
        Assert.Equal(meta.Counters, info.Counters);
        Assert.Equal(meta.CreatedAt, info.CreatedAt);
    }

    [Fact]
    public void Push_queues_and_logs_without_kept_counts_are_left_to_the_queue_to_answer()
    {
        LogMeta Meta(QueueOptions options, bool counted = true) => new() { Created = true, Options = options, LiveCounted = counted, BytesCounted = counted };

        Assert.NotNull(QueueFiguresGrain.FromStored("q", Meta(new QueueOptions()), Now));
        Assert.Null(QueueFiguresGrain.FromStored("q", Meta(new QueueOptions { Push = new PushEndpoint { Url = "https://example.com/hook", Secrets = ["a-secret-of-32-characters-or-more!"] } }), Now));
        Assert.Null(QueueFiguresGrain.FromStored("q", Meta(new QueueOptions(), counted: false), Now));
    }
}
