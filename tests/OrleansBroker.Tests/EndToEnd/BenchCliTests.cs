using System.Text.Json;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.EndToEnd;

/// <summary>
/// <c>obroker bench</c> against a real silo-host: each scenario runs small and reports what a user reads
/// off it (counts, no loss, latency fields, broker memory). Nothing here is timed; speed is measured by
/// running the bench by hand (docs/performance.md).
/// </summary>
public sealed class BenchCliTests
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(4);

    [Fact]
    public async Task Queue_and_depth_scenarios_report_every_message_received_once_and_clean_up()
    {
        using var data = new TestData();
        var gatewayPort = RealProcess.FreePort();
        var gateway = $"127.0.0.1:{gatewayPort}";
        using var silo = new SiloProcess(data.Directory, RealProcess.FreePort(), gatewayPort);
        await silo.WaitUntilReadyAsync();

        var queue = await Bench(data, "queue", "--messages", "3000", "--producers", "2", "--consumers", "2", "--batch", "50", "--warmup", "1", "--broker-pid", $"{silo.Pid}", "--gateway", gateway);
        var result = Assert.Single(queue);
        Assert.Equal("queue", result.GetProperty("scenario").GetString());
        Assert.Equal(3000, result.GetProperty("messages").GetInt64());
        Assert.Equal(1, result.GetProperty("warmup_s").GetDouble());
        Assert.Equal(0, result.GetProperty("lost").GetInt64());
        Assert.Equal(0, result.GetProperty("foreign").GetInt64());
        Assert.True(result.GetProperty("throughput_msgs_per_s").GetDouble() > 0);
        Assert.True(result.GetProperty("latency_p99_ms").GetDouble() >= result.GetProperty("latency_p50_ms").GetDouble());
        Assert.True(result.GetProperty("latency_max_ms").GetDouble() >= result.GetProperty("latency_p99_ms").GetDouble());
        Assert.True(result.GetProperty("broker_rss_mb").GetDouble() > 10);
        Assert.True(result.GetProperty("broker_written_bytes_per_msg").GetDouble() >= 1024, "every 1 KiB body is written to storage at least once");

        var depth = await Bench(data, "depth", "--depths", "0,2500", "--messages", "1000", "--gateway", gateway);
        Assert.Equal([0L, 2500L], depth.Select(r => r.GetProperty("queue_depth_before").GetInt64()));
        Assert.All(depth, r => Assert.Equal(0, r.GetProperty("lost").GetInt64()));

        // Bench queues are its own and are deleted afterwards.
        var list = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, CommandTimeout, "queue", "list", "--gateway", gateway);
        Assert.True(list.ExitCode == 0, list.Err);
        Assert.DoesNotContain("bench-", list.Out, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Recovery_scenario_kills_and_restarts_the_silo_and_gets_every_message_back()
    {
        using var data = new TestData();
        var gatewayPort = RealProcess.FreePort();
        var results = await Bench(data, "recovery", "--messages", "5000", "--gateway", $"127.0.0.1:{gatewayPort}",
            "--", "dotnet", RealProcess.SiloDll, "--data-dir", data.Directory, "--silo-port", $"{RealProcess.FreePort()}", "--gateway-port", $"{gatewayPort}", "--http-port", "0", "--mqtt-port", "0", "--amqp-port", "0");
        var result = Assert.Single(results);
        Assert.Equal(0, result.GetProperty("lost").GetInt64());
        var toFirst = result.GetProperty("time_to_first_delivery_s").GetDouble();
        Assert.True(toFirst >= result.GetProperty("time_to_gateway_s").GetDouble());
        Assert.True(result.GetProperty("elapsed_s").GetDouble() >= toFirst);
        Assert.True(result.GetProperty("broker_peak_rss_mb").GetDouble() > 10);
    }

    [Theory]
    [InlineData("--size", "5", "--size must be")]
    [InlineData("--producers", "0", "--producers must be")]
    [InlineData("--batch", "1001", "--batch must be")]
    [InlineData("--warmup", "-1", "--warmup must be")]
    public async Task Bad_bench_settings_are_one_line_and_exit_2_before_connecting(string option, string value, string message)
    {
        using var data = new TestData();
        var result = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, CommandTimeout,
            "bench", "queue", option, value, "--gateway", $"127.0.0.1:{RealProcess.FreePort()}");
        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains(message, line, StringComparison.Ordinal);
    }

    private static async Task<List<JsonElement>> Bench(TestData data, params string[] args)
    {
        var run = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, CommandTimeout, ["bench", .. args]);
        Assert.True(run.ExitCode == 0, $"exit {run.ExitCode}: {run.Err}");
        return run.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => JsonDocument.Parse(line).RootElement.Clone()).ToList();
    }
}
