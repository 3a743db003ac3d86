using System.Text.RegularExpressions;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.EndToEnd;

/// <summary>
/// A full disk as an operator meets it, with real processes on a small real file system: silo-host's data folder on a
/// 64 MiB tmpfs, the obroker CLI publishing 8 KB bodies until the broker refuses, another program filling the rest,
/// kill -9 at that point, a restart on the full disk, and consumers draining the queue.
/// </summary>
public sealed partial class DiskFullTests
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task Publishers_are_refused_before_the_disk_fills_and_consumers_drain_every_confirmed_message_across_kill_9()
    {
        using var disk = Tmpfs.Mount(64);
        using var work = new TestData();
        var data = Directory.CreateDirectory(Path.Combine(disk.Directory, "data")).FullName;
        var siloPort = RealProcess.FreePort();
        var gatewayPort = RealProcess.FreePort();
        string[] gateway = ["--gateway", $"127.0.0.1:{gatewayPort}"];
        string[] settings = ["--disk-free-limit", "8MiB", "--Broker:DiskCheckInterval", "00:00:00.2"];
        Task<(int ExitCode, string Out, string Err)> Cli(params string[] args) => RealProcess.RunAsync(RealProcess.CliDll, work.Directory, CommandTimeout, [.. args, .. gateway]);

        int confirmed;
        using (var silo = new SiloProcess(data, siloPort, gatewayPort, settings))
        {
            await silo.WaitUntilReadyAsync();

            // Far more than fits: the broker refuses a publish while there is still room on the disk, and the CLI says
            // in one line why and how many messages are stored.
            var publish = await Cli("publish", "full", "--size", "8000", "--count", "100000");
            Assert.Equal(2, publish.ExitCode);
            var line = Assert.Single(publish.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries), l => l.StartsWith("obroker:", StringComparison.Ordinal));
            Assert.StartsWith("obroker: StorageFull: ", line, StringComparison.Ordinal);
            Assert.DoesNotContain("   at ", publish.Err, StringComparison.Ordinal);
            confirmed = int.Parse(Confirmed().Match(line).Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(confirmed, 1000, 99_999);
            Assert.True(disk.AvailableBytes > 4 << 20, $"refused with {disk.AvailableBytes} bytes still free");

            var info = await Cli("queue", "info", "full");
            Assert.True(info.ExitCode == 0, info.Err);
            Assert.Matches($@"ready:\s+{confirmed}\b", info.Out);
            Assert.Matches(@"publishing:\s+Publishing is refused: .*Broker:DiskFreeLimit", info.Out);

            // Another program takes the rest of the disk; the silo dies there, with no shutdown.
            disk.Fill();
            Assert.Equal(0, disk.AvailableBytes);
            silo.KillHard();
        }

        using (var silo = new SiloProcess(data, siloPort, gatewayPort, settings))
        {
            // It starts on the full disk and serves what it holds.
            await silo.WaitUntilReadyAsync();
            var refused = await Cli("publish", "full", "--count", "1");
            Assert.Equal(2, refused.ExitCode);
            Assert.StartsWith("obroker: StorageFull: ", refused.Err, StringComparison.Ordinal);

            // Nothing confirmed was lost, and consumers drain it all on the full disk.
            var consume = await Cli("consume", "full", "--count", $"{confirmed}", "--timeout", "60");
            Assert.True(consume.ExitCode == 0, consume.Err);
            Assert.Equal(confirmed, consume.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);

            // What the drain freed inside the database is room again: publishing resumes with no restart.
            var again = await Cli("publish", "full", "--size", "8000", "--count", "100");
            Assert.True(again.ExitCode == 0, again.Err);
            var info = await Cli("queue", "info", "full");
            Assert.Matches(@"ready:\s+100\b", info.Out);
            Assert.Matches(@"publishing:\s+taken", info.Out);
        }
    }

    [Fact]
    public async Task A_write_that_finds_the_disk_full_reaches_a_cli_without_sqlite_as_one_typed_line()
    {
        using var disk = Tmpfs.Mount(32);
        using var work = new TestData();
        var data = Directory.CreateDirectory(Path.Combine(disk.Directory, "data")).FullName;
        var gatewayPort = RealProcess.FreePort();

        // No alarm and no reserve: the publish that fills the disk fails inside SQLite, whose exception the CLI could not
        // even load (it has no Microsoft.Data.Sqlite); what reaches it is the broker's own error.
        using var silo = new SiloProcess(data, RealProcess.FreePort(), gatewayPort, "--disk-free-limit", "0", "--Broker:DiskReserveBytes", "0");
        await silo.WaitUntilReadyAsync();
        Assert.False(File.Exists(Path.Combine(Path.GetDirectoryName(RealProcess.CliDll)!, "Microsoft.Data.Sqlite.dll")), "the CLI ships without SQLite");
        var publish = await RealProcess.RunAsync(RealProcess.CliDll, work.Directory, CommandTimeout,
            "publish", "full", "--size", "8000", "--count", "100000", "--gateway", $"127.0.0.1:{gatewayPort}");
        Assert.Equal(2, publish.ExitCode);
        var line = Assert.Single(publish.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("obroker: StorageFull: The broker could not store the change: its disk is full.", line, StringComparison.Ordinal);
        var correlationId = CorrelationId().Match(line).Groups[1].Value;
        Assert.NotEmpty(correlationId);
        await Eventually.HoldsAsync(() => silo.Output.Contains(correlationId, StringComparison.Ordinal), "the silo logged the cause under the correlation id");
        Assert.Contains("SQLite Error 13", silo.Output, StringComparison.Ordinal);
    }

    [GeneratedRegex(@"\(silo log: ([0-9a-f]+)\)")]
    private static partial Regex CorrelationId();

    [GeneratedRegex(@"The first (\d+) of \d+ messages were confirmed")]
    private static partial Regex Confirmed();
}
