using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.RegularExpressions;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using static OrleansBroker.Tests.Http.HttpBroker;

namespace OrleansBroker.Tests.Telemetry;

/// <summary>
/// silo-host's Prometheus endpoint, scraped over real HTTP as Prometheus does, after known numbers of messages were
/// published, delivered, acked and dead-lettered: the series say exactly those numbers. A process of its own, so the
/// silo-wide counters hold this test's messages only.
/// </summary>
public sealed class MetricsEndpointTests
{
    private const string Password = "metrics-test-password";

    [Fact]
    public async Task The_scrape_holds_exactly_what_was_published_delivered_redelivered_acked_abandoned_and_dead_lettered()
    {
        using var data = new TestData();
        using var silo = new SiloProcess(data.Directory, RealProcess.FreePort(), RealProcess.FreePort(), "--Broker:Http:AdminPassword", Password);
        await silo.WaitUntilReadyAsync();
        using var http = new HttpClient { BaseAddress = silo.HttpAddress, Timeout = TimeSpan.FromSeconds(60) };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"admin:{Password}")));

        await ExpectAsync(await http.PutAsync("/api/queues/orders", Json(new { })), HttpStatusCode.OK);
        await ExpectAsync(await http.PutAsync("/api/queues/backlog", Json(new { })), HttpStatusCode.OK);
        var published = DateTimeOffset.UtcNow;
        await ExpectAsync(await http.PostAsync("/api/queues/backlog/messages", new StringContent("waiting")), HttpStatusCode.Created);
        await ExpectAsync(await http.PostAsync("/api/queues/orders/messages/batch", Json(Enumerable.Range(0, 7).Select(i => new { body = $"order {i}" }).ToArray())), HttpStatusCode.Created);
        var deliveries = await ReceiveAsync(http, "orders", max: 6, lease: 300);
        Assert.Equal(6, deliveries.Count);
        foreach (var delivery in deliveries.Take(3))
        {
            await ExpectAsync(await SettleAsync(http, "orders", delivery!, "complete"), HttpStatusCode.NoContent);
        }

        foreach (var delivery in deliveries.Skip(3).Take(2))
        {
            await ExpectAsync(await SettleAsync(http, "orders", delivery!, "dead-letter", new { reason = "bad address" }), HttpStatusCode.NoContent);
        }

        await ExpectAsync(await SettleAsync(http, "orders", deliveries[5]!, "abandon"), HttpStatusCode.NoContent);

        // The one never delivered and the abandoned one (its second delivery), both completed.
        var rest = 0;
        for (var round = 0; round < 10 && rest < 2; round++)
        {
            foreach (var delivery in await ReceiveAsync(http, "orders", max: 10, wait: 5, lease: 300))
            {
                await ExpectAsync(await SettleAsync(http, "orders", delivery!, "complete"), HttpStatusCode.NoContent);
                rest++;
            }
        }

        Assert.Equal(2, rest);

        // Per-queue series come from each queue's timer (every second in silo-host): wait until they have caught up.
        using var scraper = new HttpClient { BaseAddress = silo.HttpAddress };
        string scrape = "";
        await Eventually.HoldsAsync(async () =>
        {
            scrape = await scraper.GetStringAsync("/metrics");
            return Value(scrape, "obroker_queue_messages_ready", "orders.dlq") == 2 && Value(scrape, "obroker_queue_messages_acked_total", "orders") == 5
                && Value(scrape, "obroker_queue_head_message_age_seconds", "backlog") is not null;
        }, "the scrape showing the dead letters and the acks");

        Assert.Equal(7, Value(scrape, "obroker_queue_messages_published_total", "orders"));
        Assert.Equal(8, Value(scrape, "obroker_queue_messages_delivered_total", "orders"));
        Assert.Equal(1, Value(scrape, "obroker_queue_messages_redelivered_total", "orders"));
        Assert.Equal(0, Value(scrape, "obroker_queue_messages_ready", "orders"));
        Assert.Equal(0, Value(scrape, "obroker_queue_messages_unacked", "orders"));
        Assert.Equal(2, Value(scrape, "obroker_queue_messages_dead_lettered_total", "orders"));
        Assert.Equal(2, Value(scrape, "obroker_queue_messages_published_total", "orders.dlq"));

        // Silo-wide: the 8 published and the 2 stored in the dead-letter queue; dead-lettered by reason.
        Assert.Equal(10, Value(scrape, "obroker_messages_published_total"));
        Assert.Equal(8, Value(scrape, "obroker_messages_delivered_total"));
        Assert.Equal(1, Value(scrape, "obroker_messages_redelivered_total"));
        Assert.Equal(5, Value(scrape, "obroker_messages_acked_total"));
        Assert.Equal(1, Value(scrape, "obroker_messages_abandoned_total"));
        Assert.Equal(2, Value(scrape, "obroker_messages_dead_lettered_total", reason: "rejected"));
        Assert.Null(Value(scrape, "obroker_messages_dead_lettered_total", reason: "expired"));
        Assert.True(Value(scrape, "obroker_publish_duration_seconds_count") >= 1, "no publish measured");

        // The oldest ready message's age: backlog's one message, as old as the test's run; orders has none ready.
        var age = Value(scrape, "obroker_queue_head_message_age_seconds", "backlog");
        Assert.InRange(age!.Value, 0, (DateTimeOffset.UtcNow - published).TotalSeconds + 1);
        Assert.Null(Value(scrape, "obroker_queue_head_message_age_seconds", "orders"));
        Assert.True(Value(scrape, "obroker_storage_commit_duration_seconds_count") > 0, "no commit measured");
        Assert.Contains("orleans_", scrape, StringComparison.Ordinal);

        // The Grafana dashboard in docs/ asks only for series this scrape has.
        var dashboard = File.ReadAllText(Path.Combine(RealProcess.RepoRoot, "docs", "grafana", "orleans-broker.json"));
        var asked = Regex.Matches(dashboard, "obroker_[a-z_]+").Select(m => m.Value).Distinct().ToList();
        Assert.NotEmpty(asked);
        Assert.All(asked, name => Assert.Matches($"(?m)^{name}[{{ ]", scrape));
    }

    /// <summary>The value of the series <paramref name="name"/> (with queue or reason label when given), or null when absent.</summary>
    private static double? Value(string scrape, string name, string? queue = null, string? reason = null)
    {
        foreach (var line in scrape.Split('\n'))
        {
            var match = Regex.Match(line, $@"^{name}\{{(?<labels>[^}}]*)\}} (?<value>\S+)");
            if (!match.Success)
            {
                continue;
            }

            var labels = match.Groups["labels"].Value;
            if ((queue is null || labels.Contains($"queue=\"{queue}\"", StringComparison.Ordinal)) && (reason is null || labels.Contains($"reason=\"{reason}\"", StringComparison.Ordinal)))
            {
                return double.Parse(match.Groups["value"].Value, CultureInfo.InvariantCulture);
            }
        }

        return null;
    }
}
