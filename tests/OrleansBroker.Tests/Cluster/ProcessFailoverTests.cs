using System.Text.Json;
using System.Text.RegularExpressions;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace OrleansBroker.Tests.Cluster;

/// <summary>
/// The cluster as a user runs it: three silo-host processes on one shared store (storage, reminders, membership), <c>obroker bench</c>
/// finding them through the membership table, and one silo <c>kill -9</c>ed in the middle of the run. The bench must report
/// <c>lost: 0</c> and exit 0.
/// </summary>
public abstract partial class ProcessFailoverTests(ITestOutputHelper output)
{
    private const int Messages = 30_000;

    /// <summary>silo-host and obroker switches of one fresh cluster on the store under test.</summary>
    protected abstract (string[] Silo, string[] Cli) Cluster();

    [Fact]
    public async Task Bench_through_a_kill_9_of_a_silo_of_three_loses_nothing()
    {
        using var data = new TestData();
        var (siloArgs, cli) = Cluster();
        string[] shared =
        [
            .. siloArgs,

            // Declare a dead silo in seconds rather than Orleans' default tens of seconds.
            "--Broker:Membership:ProbeTimeout", "00:00:01", "--Broker:Membership:NumMissedProbesLimit", "2",

            // Each silo says which silos it watches: the test waits until every one knows the other two.
            "--Logging:LogLevel:Orleans.Runtime.MembershipService.ClusterHealthMonitor", "Information",
        ];

        var silos = new List<(SiloProcess Process, int SiloPort)>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var folder = Directory.CreateDirectory(Path.Combine(data.Directory, $"silo{i}")).FullName;
                var siloPort = RealProcess.FreePort();
                silos.Add((new SiloProcess(folder, siloPort, RealProcess.FreePort(), shared), siloPort));
            }

            foreach (var (silo, _) in silos)
            {
                await silo.WaitUntilReadyAsync();
            }

            // Partitions are placed by the view of the silo that activates them: one that has not seen a silo join yet
            // places on the others only.
            foreach (var (silo, _) in silos)
            {
                await Eventually.HoldsAsync(() => silo.Output.Contains("Will watch (actively ping) 2 silos", StringComparison.Ordinal), "every silo sees the other two");
            }

            // Three partitions on three silos: whichever silo dies takes a partition (and its leases) with it. The silo that hosts
            // partition 0 (the queue's own grain) is found the way an operator would, with `obroker queue info`, before the bench
            // starts, so that the kill comes early in the run.
            var create = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, TimeSpan.FromMinutes(2), ["queue", "create", "failover", "--partitions", "3", .. cli]);
            Assert.True(create.ExitCode == 0, create.Err);
            var info = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, TimeSpan.FromMinutes(2), ["queue", "info", "failover", .. cli]);
            Assert.True(info.ExitCode == 0, info.Err);
            var partitionSilos = PartitionLine().Matches(info.Out).ToDictionary(m => m.Groups["name"].Value, m => int.Parse(m.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(3, partitionSilos.Count);
            Assert.Equal(3, partitionSilos.Values.Distinct().Count());
            var victim = silos.Single(s => s.SiloPort == partitionSilos["failover"]);

            using var bench = RealProcess.Start(RealProcess.CliDll, data.Directory,
                ["bench", "queue", "--queue", "failover", "--messages", $"{Messages}", "--producers", "2", "--consumers", "2", "--prefetch", "100",
                 "--batch", "50", "--retry-publishes", "--timeout", "120", .. cli]);
            var benchOutput = new CapturedOutput(bench);
            await Eventually.HoldsAsync(() => bench.HasExited || Received(benchOutput.Text) >= Messages / 10, "the bench has received a tenth of the messages", TimeSpan.FromMinutes(3));
            Assert.False(bench.HasExited, $"the bench ended before the kill: {benchOutput.Text}");
            victim.Process.KillHard();
            output.WriteLine($"killed the silo on port {victim.SiloPort} (pid gone) at {Received(benchOutput.Text)} received");

            using (var wait = new CancellationTokenSource(TimeSpan.FromMinutes(6)))
            {
                await bench.WaitForExitAsync(wait.Token);
            }

            output.WriteLine(benchOutput.Text.Length > 4000 ? benchOutput.Text[^4000..] : benchOutput.Text);
            var resultLine = benchOutput.Text.Split('\n').Last(l => l.StartsWith('{'));
            using var result = JsonDocument.Parse(resultLine);
            Assert.Equal(0, result.RootElement.GetProperty("lost").GetInt64());
            Assert.Equal(Messages, result.RootElement.GetProperty("messages").GetInt64());
            Assert.Equal(0, bench.ExitCode);
            output.WriteLine($"duplicates {result.RootElement.GetProperty("duplicates").GetInt64()}, publish retries {result.RootElement.GetProperty("publish_retries").GetInt64()}");

            // The survivors hold the queue, drained but for deliveries that may come again (their ack failed, or a repeat reached the bench
            // as it stopped and went back), with every partition on one of them.
            info = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, TimeSpan.FromMinutes(2), ["queue", "info", "failover", .. cli]);
            Assert.True(info.ExitCode == 0, info.Err);
            var ready = long.Parse(ReadyLine().Match(info.Out).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            var mayComeAgain = result.RootElement.GetProperty("ack_failures").GetInt64() + result.RootElement.GetProperty("duplicates").GetInt64();
            Assert.True(ready <= mayComeAgain, $"{ready} messages left ready, more than the {mayComeAgain} that may come again: {info.Out}");
            Assert.DoesNotContain(PartitionLine().Matches(info.Out), m => int.Parse(m.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture) == victim.SiloPort);
        }
        finally
        {
            foreach (var (silo, _) in silos)
            {
                silo.Dispose();
            }
        }
    }

    /// <summary>The last "received N" the bench's progress lines reported.</summary>
    private static long Received(string text) =>
        ReceivedCount().Matches(text) is { Count: > 0 } matches ? long.Parse(matches[^1].Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;

    [GeneratedRegex(@"^ready:\s+(\d+)", RegexOptions.Multiline)]
    private static partial Regex ReadyLine();

    [GeneratedRegex(@"received (\d+)")]
    private static partial Regex ReceivedCount();

    // A partition row of `queue info`: name, ready, in flight, consumers, silo address (S<ip>:<port>:<generation>).
    [GeneratedRegex(@"^(?<name>failover(~\d+)?)\s+\d+\s+\d+\s+\d+\s+S[\d.]+:(?<port>\d+):", RegexOptions.Multiline)]
    private static partial Regex PartitionLine();
}

/// <summary>Azure Storage (Azurite) for messages, reminders and membership.</summary>
public sealed class AzureProcessFailoverTests(ITestOutputHelper output) : ProcessFailoverTests(output), IAsyncLifetime
{
    private readonly Azurite _azurite = new();

    public Task InitializeAsync() => _azurite.InitializeAsync();

    public Task DisposeAsync() => _azurite.DisposeAsync();

    protected override (string[] Silo, string[] Cli) Cluster()
    {
        var clusterId = Azurite.UniqueName("cluster");
        var membership = Azurite.UniqueName("m");
        return (_azurite.SiloArgs(clusterId, membership), _azurite.CliArgs(clusterId, membership));
    }
}

/// <summary>PostgreSQL for messages, reminders and membership: one database the three silos share.</summary>
public sealed class PostgresProcessFailoverTests(ITestOutputHelper output) : ProcessFailoverTests(output), IAsyncLifetime
{
    private readonly PostgresServer _postgres = new();

    public Task InitializeAsync() => _postgres.InitializeAsync();

    public Task DisposeAsync() => _postgres.DisposeAsync();

    protected override (string[] Silo, string[] Cli) Cluster()
    {
        var clusterId = "cluster" + Guid.NewGuid().ToString("N")[..8];
        var database = PostgresServer.UniqueDatabase();
        return (_postgres.SiloArgs(clusterId, database), _postgres.CliArgs(clusterId, database));
    }
}
