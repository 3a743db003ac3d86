using System.Text.Json;
using System.Text.RegularExpressions;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace OrleansBroker.Tests.Cluster;

/// <summary>
/// The cluster as a user runs it: three silo-host processes on one Azurite (storage, reminders, membership), <c>obroker bench</c>
/// finding them through the membership table, and one silo <c>kill -9</c>ed in the middle of the run. The bench must report
/// <c>lost: 0</c> and exit 0.
/// </summary>
public sealed partial class ProcessFailoverTests(ITestOutputHelper output) : IAsyncLifetime
{
    private const int Messages = 30_000;
    private readonly Azurite _azurite = new();

    public Task InitializeAsync() => _azurite.InitializeAsync();

    public Task DisposeAsync() => _azurite.DisposeAsync();

    [Fact]
    public async Task Bench_through_a_kill_9_of_a_silo_of_three_loses_nothing()
    {
        using var data = new TestData();
        var clusterId = Azurite.UniqueName("cluster");
        var membership = Azurite.UniqueName("m");
        string[] shared =
        [
            .. _azurite.SiloArgs(clusterId, membership),

            // Declare a dead silo in seconds rather than Orleans' default tens of seconds.
            "--Broker:Membership:ProbeTimeout", "00:00:01", "--Broker:Membership:NumMissedProbesLimit", "2",
        ];
        var cli = _azurite.CliArgs(clusterId, membership);

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

            // Three partitions on three silos: whichever silo dies takes a partition (and its leases) with it.
            using var bench = RealProcess.Start(RealProcess.CliDll, data.Directory,
                ["bench", "queue", "--queue", "failover", "--messages", $"{Messages}", "--producers", "2", "--consumers", "2", "--prefetch", "100",
                 "--batch", "50", "--partitions", "3", "--retry-publishes", "--timeout", "120", .. cli]);
            var benchOutput = new CapturedOutput(bench);
            await Eventually.HoldsAsync(() => bench.HasExited || Received(benchOutput.Text) >= Messages / 10, "the bench has received a tenth of the messages", TimeSpan.FromMinutes(3));
            Assert.False(bench.HasExited, $"the bench ended before the kill: {benchOutput.Text}");

            // The silo that hosts partition 0 (the queue's own grain), found the way an operator would: `obroker queue info`.
            var info = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, TimeSpan.FromMinutes(2), ["queue", "info", "failover", .. cli]);
            Assert.True(info.ExitCode == 0, info.Err);
            var partitionSilos = PartitionLine().Matches(info.Out).ToDictionary(m => m.Groups["name"].Value, m => int.Parse(m.Groups["port"].Value, System.Globalization.CultureInfo.InvariantCulture));
            Assert.Equal(3, partitionSilos.Count);
            Assert.Equal(3, partitionSilos.Values.Distinct().Count());
            var victim = silos.Single(s => s.SiloPort == partitionSilos["failover"]);
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

            // The survivors hold the queue, drained, with every partition on one of them.
            info = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, TimeSpan.FromMinutes(2), ["queue", "info", "failover", .. cli]);
            Assert.True(info.ExitCode == 0, info.Err);
            Assert.Contains("ready:          0 ", info.Out, StringComparison.Ordinal);
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

    [GeneratedRegex(@"received (\d+)")]
    private static partial Regex ReceivedCount();

    // A partition row of `queue info`: name, ready, in flight, consumers, silo address (S<ip>:<port>:<generation>).
    [GeneratedRegex(@"^(?<name>failover(~\d+)?)\s+\d+\s+\d+\s+\d+\s+S[\d.]+:(?<port>\d+):", RegexOptions.Multiline)]
    private static partial Regex PartitionLine();
}
