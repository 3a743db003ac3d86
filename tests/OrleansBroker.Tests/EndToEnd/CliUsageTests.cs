using System.Text.Json;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.EndToEnd;

/// <summary>obroker as a new user meets it: help, mistakes, names they type, and output they can read or pipe.</summary>
public sealed class CliUsageTests
{
    [Fact]
    public async Task Bare_obroker_prints_help_and_succeeds_and_every_usage_mistake_is_one_line_and_exit_2()
    {
        using var data = new TestData();
        var bare = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, TimeSpan.FromMinutes(1));
        Assert.Equal(0, bare.ExitCode);
        Assert.Contains("publish", bare.Out, StringComparison.Ordinal);
        Assert.Contains("consume", bare.Out, StringComparison.Ordinal);

        string[][] mistakes =
        [
            ["publish", "q", "--bogus"],
            ["consume"],
            ["frobnicate"],
            ["publish", "q", "--count", "abc"],
            ["queue", "create", "q", "--overflow", "sometimes"],
        ];
        foreach (var args in mistakes)
        {
            var result = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, TimeSpan.FromMinutes(1), args);
            var what = string.Join(' ', args);
            Assert.True(result.ExitCode == 2, $"obroker {what} exited {result.ExitCode}");
            var line = Assert.Single(result.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.StartsWith("obroker: ", line, StringComparison.Ordinal);
            Assert.Contains("--help)", line, StringComparison.Ordinal);
            Assert.DoesNotContain("System.", line, StringComparison.Ordinal);
            Assert.DoesNotContain("OrleansBroker.", line, StringComparison.Ordinal);
        }

        var overflow = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, TimeSpan.FromMinutes(1), "queue", "create", "q", "--overflow", "sometimes");
        Assert.Contains("reject-publish, drop-oldest, dead-letter-oldest (or drop-head)", overflow.Err, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Consume_refuses_a_missing_queue_drains_until_empty_prints_json_and_publish_sets_routing_keys_and_headers()
    {
        using var data = new TestData();
        var gatewayPort = RealProcess.FreePort();
        var cli = new ObrokerCli(data.Directory, gatewayPort);
        using var silo = new SiloProcess(data.Directory, RealProcess.FreePort(), gatewayPort);
        await silo.WaitUntilReadyAsync();

        // A typo is an error, not a new queue.
        var typo = await cli.RunAsync("consume", "ordres", "--timeout", "5");
        Assert.Equal(2, typo.ExitCode);
        Assert.Contains("QueueNotFound", typo.Err, StringComparison.Ordinal);
        Assert.DoesNotContain("ordres", await cli.OkAsync("queue", "list"), StringComparison.Ordinal);

        // RabbitMQ's name for dropping the oldest is understood, and shown the broker's way.
        Assert.Contains("overflow drop-oldest", await cli.OkAsync("queue", "create", "small", "--max-length", "5", "--overflow", "drop-head"), StringComparison.Ordinal);

        // Routing key and headers reach a topic's pattern and header filter.
        await cli.OkAsync("topic", "create", "orders");
        await cli.OkAsync("topic", "subscribe", "orders", "eu", "--key", "orders.*.created", "--header-prefix", "region=eu-");
        Assert.Contains("no subscription matched", await cli.OkAsync("publish", "orders", "--routing-key", "orders.web.created", "--header", "region=us-east"), StringComparison.Ordinal);
        Assert.Contains("stored for eu", await cli.OkAsync("publish", "orders", "--body", "{\"id\":7}", "--id", "o-7", "--routing-key", "orders.web.created", "--header", "region=eu-west"), StringComparison.Ordinal);

        // Any queue can be peeked; nothing is consumed.
        var peek = await cli.OkAsync("queue", "peek", "orders/eu");
        Assert.Contains("o-7", peek, StringComparison.Ordinal);
        Assert.Contains("1 messages shown from orders/eu", peek, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^orders/eu\s+1\s+0\s+0\s+yes\s*$", await cli.OkAsync("queue", "list")); // ready, in flight, consumers, in memory

        // JSON lines carry what a consumer needs to see.
        var json = await cli.RunAsync("consume", "orders/eu", "--count", "1", "--output", "json", "--timeout", "60");
        Assert.True(json.ExitCode == 0, json.Err);
        using var line = JsonDocument.Parse(Assert.Single(json.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries)));
        var root = line.RootElement;
        Assert.Equal("o-7", root.GetProperty("id").GetString());
        Assert.Equal(1, root.GetProperty("attempt").GetInt32());
        Assert.Equal("orders.web.created", root.GetProperty("routing_key").GetString());
        Assert.Equal("eu-west", root.GetProperty("headers").GetProperty("region").GetString());
        Assert.Equal("{\"id\":7}", root.GetProperty("body").GetString());
        Assert.True(root.GetProperty("enqueued_at").GetDateTimeOffset() > DateTimeOffset.UtcNow.AddHours(-1));

        // Drain mode: everything ready, then exit 0 without a count or a timeout.
        await cli.OkAsync("queue", "create", "work");
        await cli.OkAsync("publish", "work", "--count", "25");
        var drained = await cli.RunAsync("consume", "work", "--until-empty", "--timeout", "120");
        Assert.True(drained.ExitCode == 0, drained.Err);
        Assert.Equal(Enumerable.Range(1, 25).Select(i => $"message {i}"), drained.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("ready:          0", await cli.OkAsync("queue", "info", "work"), StringComparison.Ordinal);
    }
}
