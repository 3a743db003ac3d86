using System.Diagnostics;
using OrleansBroker.Client.Hosting;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace OrleansBroker.Tests.Cluster;

/// <summary>
/// Two silo-host processes on PostgreSQL (storage and membership) and an application's client: the silo holding a partition
/// is paused (SIGSTOP) with a publish to it in flight and stays paused until the other silo declares it dead. Killed then,
/// the publish fails with <see cref="BrokerErrorCode.SiloLost"/> within seconds instead of Orleans' 30 s response timeout;
/// resumed instead, the silo finds itself dead and stops within seconds, and new partitions land only on the live silo.
/// </summary>
public sealed class DeadSiloTests(PostgresServer postgres, ITestOutputHelper output) : IClassFixture<PostgresServer>
{
    /// <summary>Orleans' response timeout: a publish to a dead silo without the client's watch waits this long.</summary>
    private static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(30);

    private const int DeadStatus = 6;

    [Fact]
    public async Task A_publish_in_flight_to_a_silo_that_dies_fails_fast_with_SiloLost_and_the_next_one_lands_on_the_survivor()
    {
        await using var cluster = await TwoSilosAsync();
        var (call, sent) = await PublishToPausedVictimAsync(cluster);

        cluster.Victim.Process.KillHard();
        var killed = Stopwatch.StartNew();
        var failure = await Assert.ThrowsAsync<BrokerException>(() => call.WaitAsync(ResponseTimeout));
        output.WriteLine($"failed {killed.Elapsed.TotalSeconds:F1} s after the kill, {sent.Elapsed.TotalSeconds:F1} s after it was sent: {failure.Message}");
        Assert.Equal(BrokerErrorCode.SiloLost, failure.Code);
        Assert.True(sent.Elapsed < ResponseTimeout, $"the publish failed only after {sent.Elapsed}, Orleans' own timeout");

        // Published again, it is stored by the partition's new activation on the survivor.
        await Eventually.HoldsAsync(async () => await TryPublishAsync(cluster, "again"), "a publish to the dead silo's partition succeeds again", TimeSpan.FromMinutes(1));
        var info = await cluster.Client.Admin.GetQueueInfoAsync(cluster.Queue);
        Assert.All(info.Partitions!, p => Assert.Contains($":{cluster.Survivor.SiloPort}:", p.Silo, StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_silo_declared_dead_while_paused_stops_once_resumed_and_takes_no_partition()
    {
        await using var cluster = await TwoSilosAsync();
        var (call, sent) = await PublishToPausedVictimAsync(cluster);

        cluster.Victim.Process.Resume();
        var resumed = Stopwatch.StartNew();
        await Eventually.HoldsAsync(() => cluster.Victim.Process.HasExited, "the silo declared dead stops by itself", TimeSpan.FromSeconds(30));
        output.WriteLine($"the resumed silo stopped after {resumed.Elapsed.TotalSeconds:F1} s");

        // The publish that waited on it ends (stored by the resumed silo before it stopped, or failed with SiloLost), not at 30 s.
        try
        {
            await call.WaitAsync(ResponseTimeout);
        }
        catch (BrokerException failure)
        {
            Assert.Equal(BrokerErrorCode.SiloLost, failure.Code);
        }

        Assert.True(sent.Elapsed < ResponseTimeout, $"the publish ended only after {sent.Elapsed}, Orleans' own timeout");

        // Queues made from here on, whatever their names hash to, all live on the survivor.
        for (var i = 0; i < 6; i++)
        {
            var queue = $"after-{i}";
            await cluster.Client.Admin.CreateQueueAsync(queue, new QueueOptions { Partitions = 2 });
            await cluster.Client.Broker.PublishAsync(queue, new BrokerMessage(null, "x"u8.ToArray()));
            var info = await cluster.Client.Admin.GetQueueInfoAsync(queue);
            Assert.All(info.Partitions!, p => Assert.Contains($":{cluster.Survivor.SiloPort}:", p.Silo, StringComparison.Ordinal));
        }
    }

    private async Task<Cluster> TwoSilosAsync()
    {
        var clusterId = "cluster" + Guid.NewGuid().ToString("N")[..8];
        var database = PostgresServer.UniqueDatabase();
        string[] args =
        [
            .. postgres.SiloArgs(clusterId, database),
            "--Broker:Membership:ProbeTimeout", "00:00:01", "--Broker:Membership:NumMissedProbesLimit", "2",
        ];
        var data = new TestData();
        var silos = new List<(SiloProcess Process, int SiloPort)>();
        for (var i = 0; i < 2; i++)
        {
            var folder = Directory.CreateDirectory(Path.Combine(data.Directory, $"silo{i}")).FullName;
            var siloPort = RealProcess.FreePort();
            silos.Add((new SiloProcess(folder, siloPort, RealProcess.FreePort(), args), siloPort));
        }

        var cluster = new Cluster(postgres, database, clusterId, data, silos);
        foreach (var (silo, _) in silos)
        {
            await silo.WaitUntilReadyAsync();
        }

        cluster.Client = await GatewayClient.ConnectAsync(new BrokerClientOptions
        {
            ClusterId = clusterId,
            Clustering = BrokerClustering.Postgres,
            PostgresConnectionString = postgres.ConnectionString(database),
        });

        // Two partitions on two silos: one on each. The victim is the silo of partition 1.
        var info = await cluster.Client.Admin.CreateQueueAsync(cluster.Queue, new QueueOptions { Partitions = 2 });
        await cluster.Client.Broker.PublishAsync(cluster.Partition, new BrokerMessage(null, "warm"u8.ToArray()));
        info = await cluster.Client.Admin.GetQueueInfoAsync(cluster.Queue);
        var victimPort = silos.Single(s => info.Partitions!.Single(p => p.Name == cluster.Partition).Silo.Contains($":{s.SiloPort}:", StringComparison.Ordinal)).SiloPort;
        cluster.VictimPort = victimPort;
        return cluster;
    }

    /// <summary>
    /// Pauses the victim, publishes to its partition, and waits until the survivor has declared it dead: the publish is then
    /// surely on its way to a silo that will not answer.
    /// </summary>
    private async Task<(Task Call, Stopwatch Sent)> PublishToPausedVictimAsync(Cluster cluster)
    {
        cluster.Victim.Process.Pause();
        var sent = Stopwatch.StartNew();
        var call = cluster.Client.Broker.PublishAsync(cluster.Partition, new BrokerMessage(null, "in flight"u8.ToArray()));
        await Eventually.HoldsAsync(async () => await cluster.StatusAsync(cluster.VictimPort) == DeadStatus, "the survivor declares the paused silo dead", TimeSpan.FromMinutes(1));
        output.WriteLine($"declared dead {sent.Elapsed.TotalSeconds:F1} s after the pause");
        Assert.False(call.IsCompleted, $"the publish to the paused silo ended: {call.Exception}");
        return (call, sent);
    }

    private static async Task<bool> TryPublishAsync(Cluster cluster, string body)
    {
        try
        {
            await cluster.Client.Broker.PublishAsync(cluster.Partition, new BrokerMessage(null, System.Text.Encoding.UTF8.GetBytes(body)));
            return true;
        }
        catch (Exception exception) when (exception is not Xunit.Sdk.XunitException)
        {
            return false;
        }
    }

    private sealed class Cluster(PostgresServer postgres, string database, string clusterId, TestData data, List<(SiloProcess Process, int SiloPort)> silos) : IAsyncDisposable
    {
        public string Queue { get; } = "dead-silo";

        public string Partition => QueuePartitions.NameOf(Queue, 1);

        public GatewayClient Client { get; set; } = null!;

        public int VictimPort { get; set; }

        public (SiloProcess Process, int SiloPort) Victim => silos.Single(s => s.SiloPort == VictimPort);

        public (SiloProcess Process, int SiloPort) Survivor => silos.Single(s => s.SiloPort != VictimPort);

        /// <summary>The victim's status in the membership table (Orleans' SiloStatus: 3 active, 6 dead).</summary>
        public async Task<int?> StatusAsync(int siloPort) =>
            (int?)await postgres.ScalarAsync(database, $"SELECT status FROM orleansmembershiptable WHERE deploymentid = '{clusterId}' AND port = {siloPort} ORDER BY generation DESC LIMIT 1");

        public async ValueTask DisposeAsync()
        {
            if (Client is not null)
            {
                await Client.DisposeAsync();
            }

            foreach (var (silo, _) in silos)
            {
                silo.Dispose();
            }

            data.Dispose();
        }
    }
}
