using System.Net;
using System.Text.Json.Nodes;
using OrleansBroker.Identity;
using Xunit;
using static OrleansBroker.Tests.Http.HttpBroker;

namespace OrleansBroker.Tests.Http;

/// <summary>Definitions: one broker's layout exported and imported into another, merged; users and keys keep working.</summary>
public sealed class HttpDefinitionsTests
{
    [Fact]
    public async Task Definitions_exported_from_one_broker_recreate_its_layout_and_principals_in_another_and_a_second_import_changes_nothing()
    {
        string exported;
        string key;
        await using (var source = await HttpBroker.StartAsync())
        {
            var acme = source.Client(Basic("admin", AdminPassword), "acme");
            await CreateQueueAsync(acme, "orders", new { maxDeliveryAttempts = 3, deadLetterQueue = "orders-failed" });
            await CreateQueueAsync(acme, "invoices", new { maxDeliveryAttempts = 4 });
            await ExpectAsync(await acme.PutAsync("/api/topics/events", Json(new { })), HttpStatusCode.OK);
            await ExpectAsync(await acme.PutAsync("/api/topics/events/subscriptions/eu", Json(new { filter = new { routingKeys = new[] { "eu.#" } } })), HttpStatusCode.OK);
            await ExpectAsync(await source.Admin.PutAsync("/api/users/ops", Json(new { password = "ops password", access = HttpApiTestsAccess("acme") })), HttpStatusCode.Created);
            key = await source.CreateKeyAsync("svc", HttpApiTestsAccess("acme"));
            exported = await ExpectAsync(await source.Admin.GetAsync("/api/definitions"), HttpStatusCode.OK);
        }

        Assert.DoesNotContain("ops password", exported);
        Assert.DoesNotContain(key, exported);
        await using var target = await HttpBroker.StartAsync();
        var targetAcme = target.Client(Basic("admin", AdminPassword), "acme");
        await CreateQueueAsync(targetAcme, "invoices", new { maxDeliveryAttempts = 7 });

        // A malformed file makes nothing.
        var malformed = JsonNode.Parse(exported)!.AsObject();
        malformed["queues"]!.AsArray().Add(new JsonObject { ["tenant"] = "acme", ["name"] = "bad name" });
        await ExpectProblemAsync(await target.Admin.PostAsync("/api/definitions", Json(malformed)), HttpStatusCode.BadRequest, "InvalidName");
        await ExpectProblemAsync(await targetAcme.GetAsync("/api/queues/orders"), HttpStatusCode.NotFound, "QueueNotFound");

        var imported = JsonNode.Parse(await ExpectAsync(await target.Admin.PostAsync("/api/definitions", Json(JsonNode.Parse(exported)!)), HttpStatusCode.OK))!;
        var kept = imported["kept"]!.AsArray().Select(k => k!.GetValue<string>()).ToList();
        Assert.Contains(kept, k => k.Contains("acme@invoices", StringComparison.Ordinal) || k.Contains("'invoices'", StringComparison.Ordinal));
        Assert.Contains(kept, k => k.Contains("principal 'admin'", StringComparison.Ordinal));

        var orders = JsonNode.Parse(await ExpectAsync(await targetAcme.GetAsync("/api/queues/orders"), HttpStatusCode.OK))!;
        Assert.Equal(3, orders["options"]!["maxDeliveryAttempts"]!.GetValue<int>());
        Assert.Equal("orders-failed", orders["options"]!["deadLetterQueue"]!.GetValue<string>());
        var invoices = JsonNode.Parse(await ExpectAsync(await targetAcme.GetAsync("/api/queues/invoices"), HttpStatusCode.OK))!;
        Assert.Equal(7, invoices["options"]!["maxDeliveryAttempts"]!.GetValue<int>());
        var subscription = JsonNode.Parse(await ExpectAsync(await targetAcme.GetAsync("/api/topics/events/subscriptions/eu"), HttpStatusCode.OK))!;
        Assert.Equal("eu.#", subscription["filter"]!["routingKeys"]![0]!.GetValue<string>());
        await ExpectAsync(await target.Client(Basic("ops", "ops password")).GetAsync("/api/whoami"), HttpStatusCode.OK);
        await ExpectAsync(await target.Client(Bearer(key)).GetAsync("/api/queues/orders"), HttpStatusCode.OK);

        var again = JsonNode.Parse(await ExpectAsync(await target.Admin.PostAsync("/api/definitions", Json(JsonNode.Parse(exported)!)), HttpStatusCode.OK))!;
        Assert.Equal(kept.Count + 2, again["kept"]!.AsArray().Count);
        Assert.Equal(JsonNode.Parse(exported)!["queues"]!.AsArray().Count, JsonNode.Parse(await ExpectAsync(await target.Admin.GetAsync("/api/definitions"), HttpStatusCode.OK))!["queues"]!.AsArray().Count);
    }

    private static PrincipalAccess HttpApiTestsAccess(string tenant) => new(tenant, [new TenantPermission(tenant, "*", "*", "*")]);
}
