using System.Collections.Concurrent;
using System.Text;
using OrleansBroker.Client;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace OrleansBroker.Tests.Cluster;

/// <summary>
/// A silo shut down in order while a consumer works through a queue it hosts: the queue moves to another silo with its
/// leases, so the consumer's acks land and no message is delivered twice.
/// </summary>
public sealed class GracefulHandOffTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Messages = 400;
    private readonly Azurite _azurite = new();

    public Task InitializeAsync() => _azurite.InitializeAsync();

    public Task DisposeAsync() => _azurite.DisposeAsync();

    [Fact]
    public async Task Stopping_the_silo_that_hosts_a_queue_hands_its_leases_over_without_redelivery()
    {
        await using var cluster = await BrokerCluster.StartAsync(storage: _azurite.ClusterStorage(), silos: 3);
        var broker = cluster.Broker;
        var admin = cluster.Admin;
        await admin.CreateQueueAsync("handoff");
        await broker.PublishBatchAsync("handoff", [.. Enumerable.Range(0, Messages).Select(i => new BrokerMessage($"m{i}", Encoding.UTF8.GetBytes($"{i}")))]);

        var handled = new ConcurrentDictionary<string, int>();
        var attempts = new ConcurrentBag<int>();
        await using var consumer = await broker.ConsumeAsync("handoff", async (delivery, cancellationToken) =>
        {
            handled.AddOrUpdate(delivery.MessageId, 1, (_, n) => n + 1);
            attempts.Add(delivery.Attempt);
            await Task.Delay(20, cancellationToken);
        }, new ConsumerOptions { Prefetch = 40, Concurrency = 8 });

        await Eventually.HoldsAsync(() => handled.Count >= Messages / 4, "a quarter handled");
        var management = cluster.Grains.GetGrain<IManagementGrain>(0);
        var host = (await management.GetActivationAddress(cluster.Grains.GetGrain<IQueueGrain>("handoff")))!;
        var leasedAtStop = (await admin.GetQueueInfoAsync("handoff")).InFlight;
        await cluster.Cluster.StopSiloAsync(cluster.Cluster.Silos.Single(s => s.SiloAddress.Equals(host)));
        output.WriteLine($"stopped {host} with {leasedAtStop} in flight, {handled.Count} handled");
        Assert.True(leasedAtStop > 0, "deliveries were out when the silo stopped");

        await Eventually.HoldsAsync(async () => (await admin.GetQueueInfoAsync("handoff")).Counters.Acked == Messages, "every message acked", TimeSpan.FromMinutes(2));
        Assert.Equal(Messages, handled.Count);
        Assert.All(handled, h => Assert.True(h.Value == 1, $"{h.Key} was handled {h.Value} times"));
        var info = await admin.GetQueueInfoAsync("handoff");
        Assert.Equal(0, info.Depth);

        // A delivery that did not reach the consumer (its call failed or was lost while the gateway went away) comes again as a
        // later attempt, but the consumer handles it once: what was handed off is acked by its first and only delivery.
        output.WriteLine($"{attempts.Count(a => a > 1)} first handled on a later attempt; counters: {info.Counters}");
        Assert.NotEqual(host, await management.GetActivationAddress(cluster.Grains.GetGrain<IQueueGrain>("handoff")));
    }
}
