using System.Collections.Concurrent;
using System.Text;
using Orleans.Configuration;
using OrleansBroker.Client;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace OrleansBroker.Tests.Cluster;

/// <summary>
/// Three silos on Azure Storage (a real Azurite): producers and a consumer running, the silo that hosts the queue
/// (with partitions: its partition 0, and a third of the others) killed mid-run. Nothing confirmed is lost, duplicates stay within what was leased at the kill, and delivery
/// resumes on another silo.
/// </summary>
public sealed class SiloFailureTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Messages = 3000;
    private const int Producers = 4;
    private const int Prefetch = 50;
    private readonly Azurite _azurite = new();

    public Task InitializeAsync() => _azurite.InitializeAsync();

    public Task DisposeAsync() => _azurite.DisposeAsync();

    [Theory]
    [InlineData(1)]
    [InlineData(6)]
    public async Task Killing_the_silo_that_hosts_a_queue_loses_no_confirmed_message_and_delivery_resumes(int partitions)
    {
        await using var cluster = await BrokerCluster.StartAsync(storage: _azurite.ClusterStorage(), silos: 3, silo: s => s.Configure<ClusterMembershipOptions>(m =>
        {
            // Declare a dead silo within seconds, not the production default's tens of seconds.
            m.ProbeTimeout = TimeSpan.FromSeconds(1);
            m.NumMissedProbesLimit = 2;
        }));
        var broker = cluster.Broker;
        var admin = cluster.Admin;
        var created = await admin.CreateQueueAsync("work", new QueueOptions { LeaseDuration = TimeSpan.FromSeconds(10), Partitions = partitions });
        if (partitions > 1)
        {
            // Placement puts a queue's partitions on consecutive silos: all three take a share.
            Assert.Equal(3, created.Partitions!.Select(p => p.Silo).Distinct().Count());
        }

        var received = new ConcurrentDictionary<string, int>();
        var receivedAfterKill = 0;
        var killed = 0;
        await using var consumer = await broker.ConsumeAsync("work", (delivery, _) =>
        {
            received.AddOrUpdate(delivery.MessageId, 1, (_, n) => n + 1);
            if (Volatile.Read(ref killed) == 1)
            {
                Interlocked.Increment(ref receivedAfterKill);
            }

            return Task.CompletedTask;
        }, new ConsumerOptions { Prefetch = Prefetch });

        var confirmed = new ConcurrentBag<string>();
        var publishRetries = 0;
        string? lastError = null;
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(4));
        var producers = Enumerable.Range(0, Producers).Select(p => Task.Run(async () =>
        {
            for (var i = p; i < Messages; i += Producers)
            {
                var id = $"m-{i}";
                while (true)
                {
                    try
                    {
                        await broker.PublishAsync("work", new BrokerMessage(id, Encoding.UTF8.GetBytes(id)), stop.Token);
                        confirmed.Add(id);
                        break;
                    }
                    catch (Exception exception) when (!stop.IsCancellationRequested && exception is not OperationCanceledException)
                    {
                        // The retry a producer makes: same id, so the queue's deduplication keeps it single.
                        Interlocked.Increment(ref publishRetries);
                        lastError = exception.GetType().Name + ": " + exception.Message;
                        await Task.Delay(200, stop.Token);
                    }
                }
            }
        })).ToList();

        await Eventually.HoldsAsync(() => confirmed.Count >= Messages / 3 && !received.IsEmpty, "a third of the messages confirmed and delivery under way");
        var management = cluster.Grains.GetGrain<IManagementGrain>(0);
        var host = (await management.GetActivationAddress(cluster.Grains.GetGrain<IQueueGrain>("work")))!;
        var victim = cluster.Cluster.Silos.Single(s => s.SiloAddress.Equals(host));
        await cluster.Cluster.KillSiloAsync(victim);
        Volatile.Write(ref killed, 1);
        output.WriteLine($"killed {host} after {confirmed.Count} confirmed, {received.Count} received");

        var all = Task.WhenAll(producers);
        while (await Task.WhenAny(all, Task.Delay(5000)) != all)
        {
            output.WriteLine($"{DateTime.UtcNow:HH:mm:ss} confirmed {confirmed.Count}, received {received.Count}, retries {publishRetries}, last error {lastError}");
        }

        await all;
        await Eventually.HoldsAsync(() => confirmed.All(received.ContainsKey), "every confirmed message delivered", TimeSpan.FromMinutes(3));

        var duplicates = received.Values.Sum() - received.Count;
        output.WriteLine($"confirmed {confirmed.Count}, delivered {received.Count} distinct, {duplicates} duplicates, {publishRetries} publish retries");
        Assert.Equal(Messages, confirmed.Count);
        Assert.True(receivedAfterKill > 0, "delivery resumed after the kill");
        Assert.True(duplicates <= 2 * Prefetch, $"{duplicates} duplicates; only deliveries leased at the kill (prefetch {Prefetch}) and acks not yet stored may come again");
        var newHost = await management.GetActivationAddress(cluster.Grains.GetGrain<IQueueGrain>("work"));
        Assert.NotEqual(host, newHost);
        var after = await admin.GetQueueInfoAsync("work");
        Assert.Equal(0, after.Depth);
        Assert.All(after.Partitions ?? [], p => Assert.NotEqual(victim.SiloAddress.ToString(), p.Silo));
    }
}
