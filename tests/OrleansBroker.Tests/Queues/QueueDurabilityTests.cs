using System.Text;
using OrleansBroker.Client;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Queues;

/// <summary>What survives: grain deactivation and a silo restart, on the SQLite file.</summary>
public sealed class QueueDurabilityTests : BrokerClusterTest
{
    protected override Task<BrokerCluster> StartAsync() => BrokerCluster.StartAsync(o => o.SegmentMaxMessages = 50);

    [Fact]
    public async Task A_deactivated_queue_recovers_its_messages_options_and_counters()
    {
        var options = new QueueOptions { LeaseDuration = TimeSpan.FromSeconds(42), MaxDeliveryAttempts = 4 };
        await Admin.CreateQueueAsync("recover", options);
        await Broker.PublishBatchAsync("recover", Enumerable.Range(0, 120).Select(i => new BrokerMessage($"m{i}", Encoding.UTF8.GetBytes($"{i}"), Headers: new Dictionary<string, string> { ["n"] = $"{i}" })).ToList());
        await Broker.ReceiveAndAckAsync("recover", 30);

        await Cluster.Cluster.DeactivateAsync(Cluster.Grains.GetGrain<IQueueGrain>("recover"));

        var info = await Admin.GetQueueInfoAsync("recover");
        Assert.Equal(options, info.Options);
        Assert.Equal(90, info.Ready);
        Assert.Equal(120, info.Counters.Published);
        Assert.Equal(30, info.Counters.Acked);
        var rest = await Broker.ReceiveAndAckAsync("recover", 90);
        Assert.Equal(Enumerable.Range(30, 90).Select(i => $"m{i}"), rest.Select(d => d.MessageId));
        Assert.All(rest, d => Assert.Equal(d.MessageId[1..], d.Headers!["n"]));
    }

    [Fact]
    public async Task Nothing_confirmed_is_lost_across_a_silo_restart_and_acked_messages_stay_acked()
    {
        await Admin.CreateQueueAsync("restart");
        for (var i = 0; i < 200; i++)
        {
            await Broker.PublishAsync("restart", $"body {i}", $"m{i}");
        }

        await Broker.ReceiveAndAckAsync("restart", 50);
        await Cluster.RestartSilosAsync();

        var info = await Admin.GetQueueInfoAsync("restart");
        Assert.Equal(150, info.Depth);
        var rest = await Broker.ReceiveAndAckAsync("restart", 150);
        Assert.Equal(Enumerable.Range(50, 150).Select(i => $"body {i}"), rest.Select(d => d.BodyText()));
        Assert.Equal(0, (await Admin.GetQueueInfoAsync("restart")).Depth);
    }

    [Fact]
    public async Task A_consumer_keeps_receiving_after_the_silo_restarts()
    {
        await Admin.CreateQueueAsync("resume");
        var received = new System.Collections.Concurrent.ConcurrentDictionary<string, int>();
        await using var consumer = await Broker.ConsumeAsync("resume", (d, _) =>
        {
            received.AddOrUpdate(d.MessageId, 1, (_, n) => n + 1);
            return Task.CompletedTask;
        });
        await Broker.PublishAsync("resume", "before", "before");
        await Eventually.HoldsAsync(() => received.ContainsKey("before"), "delivered before restart");

        await Cluster.RestartSilosAsync();
        await Broker.PublishAsync("resume", "after", "after");

        await Eventually.HoldsAsync(() => received.ContainsKey("after"), "delivered after restart, to the same consumer");
        Assert.False(consumer.Completion.IsCompleted);
    }

    [Fact]
    public async Task Settled_segments_are_deleted_so_storage_does_not_grow_with_history()
    {
        await Admin.CreateQueueAsync("gc");
        for (var round = 0; round < 3; round++)
        {
            await Broker.PublishBatchAsync("gc", Enumerable.Range(0, 100).Select(i => new BrokerMessage(null, new byte[1000])).ToList());
            await Broker.ReceiveAndAckAsync("gc", 100);
        }

        // The last settled segment goes with the commit after the one that settled it; a queue gone quiet makes that commit itself.
        await Eventually.HoldsAsync(
            () => CountRows(Cluster.DataDirectory, "s%") == 0 && CountRows(Cluster.DataDirectory, "a%") == 0,
            "every settled segment and settle record was deleted");
    }

    private static long CountRows(string dataDirectory, string pattern)
    {
        using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(dataDirectory, "broker.db")};Pooling=false");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM records WHERE state_name LIKE $p";
        command.Parameters.AddWithValue("$p", pattern);
        return (long)command.ExecuteScalar()!;
    }
}
