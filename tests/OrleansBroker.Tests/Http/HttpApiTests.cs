using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using OrleansBroker.Identity;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using static OrleansBroker.Tests.Http.HttpBroker;

namespace OrleansBroker.Tests.Http;

/// <summary>The HTTP data plane and management over real sockets: publish, receive with a lease, settle; tenants; keys.</summary>
public sealed class HttpApiTests : IAsyncLifetime
{
    private HttpBroker _broker = null!;

    private HttpClient Admin => _broker.Admin;

    public async Task InitializeAsync() => _broker = await HttpBroker.StartAsync();

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public async Task A_message_published_with_headers_is_received_with_a_lock_token_and_completed_once()
    {
        await CreateQueueAsync(Admin, "orders");
        var publish = new HttpRequestMessage(HttpMethod.Post, "/api/queues/orders/messages") { Content = new StringContent("{\"total\":42}", Encoding.UTF8, "application/json") };
        publish.Headers.Add("Broker-Message-Id", "order-1");
        publish.Headers.Add("Broker-Header-Region", "eu");
        publish.Headers.Add("Broker-Priority", "3");
        var receipt = JsonNode.Parse(await ExpectAsync(await Admin.SendAsync(publish), HttpStatusCode.Created))!;
        Assert.Equal("order-1", receipt["messageId"]!.GetValue<string>());

        var delivery = Assert.Single(await ReceiveAsync(Admin, "orders", max: 10))!;
        Assert.Equal("order-1", delivery["messageId"]!.GetValue<string>());
        Assert.Equal("{\"total\":42}", delivery["body"]!.GetValue<string>());
        Assert.Equal("application/json; charset=utf-8", delivery["contentType"]!.GetValue<string>());
        Assert.Equal("eu", delivery["headers"]!["Region"]!.GetValue<string>());
        Assert.Equal(3, delivery["priority"]!.GetValue<int>());
        Assert.Equal(1, delivery["attempt"]!.GetValue<int>());

        await ExpectAsync(await SettleAsync(Admin, "orders", delivery, "complete"), HttpStatusCode.NoContent);
        await ExpectProblemAsync(await SettleAsync(Admin, "orders", delivery, "complete"), HttpStatusCode.Conflict, "LeaseLost");
        await ExpectAsync(await Admin.PostAsync("/api/queues/orders/messages/receive?wait=0", null), HttpStatusCode.NoContent);
        Assert.Equal("[]", await ExpectAsync(await Admin.GetAsync("/api/queues/orders/messages"), HttpStatusCode.OK));
    }

    [Fact]
    public async Task A_waiting_receive_is_answered_by_the_next_publish()
    {
        await CreateQueueAsync(Admin, "waiting");
        var receive = Admin.PostAsync("/api/queues/waiting/messages/receive?wait=20&max=5", null);
        await ExpectAsync(await Admin.PostAsync("/api/queues/waiting/messages", new StringContent("late")), HttpStatusCode.Created);

        var answer = await receive.WaitAsync(TimeSpan.FromSeconds(15));
        var delivery = Assert.Single(JsonNode.Parse(await ExpectAsync(answer, HttpStatusCode.OK))!.AsArray())!;
        Assert.Equal("late", delivery["body"]!.GetValue<string>());
    }

    [Fact]
    public async Task Abandon_with_a_retry_after_dead_letter_with_a_reason_and_renew_do_what_they_say()
    {
        await CreateQueueAsync(Admin, "settles", new { maxDeliveryAttempts = 5 });
        await ExpectAsync(await Admin.PostAsync("/api/queues/settles/messages/batch",
            Json(new object[] { new { id = "a", body = "first" }, new { id = "b", bodyBase64 = Convert.ToBase64String([0xff, 0x00, 0x10]) } })), HttpStatusCode.Created);
        var both = await ReceiveAsync(Admin, "settles", max: 2, lease: 5);
        Assert.Equal(["a", "b"], both.Select(d => d!["messageId"]!.GetValue<string>()));
        Assert.Equal(Convert.ToBase64String([0xff, 0x00, 0x10]), both[1]!["bodyBase64"]!.GetValue<string>());

        var renewed = JsonNode.Parse(await ExpectAsync(await SettleAsync(Admin, "settles", both[0]!, "renew", new { leaseSeconds = 600 }), HttpStatusCode.OK))!;
        Assert.True(renewed["leaseExpiresAt"]!.GetValue<DateTimeOffset>() > DateTimeOffset.UtcNow.AddMinutes(5));
        await ExpectAsync(await SettleAsync(Admin, "settles", both[1]!, "dead-letter", new { reason = "bad-input" }), HttpStatusCode.NoContent);
        await ExpectAsync(await SettleAsync(Admin, "settles", both[0]!, "abandon", new { retryAfterSeconds = 0 }), HttpStatusCode.NoContent);

        var again = Assert.Single(await ReceiveAsync(Admin, "settles", max: 5, wait: 10));
        Assert.Equal("a", again!["messageId"]!.GetValue<string>());
        Assert.Equal(2, again["attempt"]!.GetValue<int>());
        JsonArray deadLetters = [];
        await Eventually.HoldsAsync(async () =>
        {
            var response = await Admin.GetAsync("/api/queues/settles.dlq/messages");
            deadLetters = response.IsSuccessStatusCode ? JsonNode.Parse(await response.Content.ReadAsStringAsync())!.AsArray() : [];
            return deadLetters.Count > 0;
        }, "the dead letter is in settles.dlq");
        var dead = Assert.Single(deadLetters)!;
        Assert.Equal("b", dead["messageId"]!.GetValue<string>());
        Assert.Equal("bad-input", dead["headers"]!["x-broker-dlq-reason"]!.GetValue<string>());

        var redriven = JsonNode.Parse(await ExpectAsync(await Admin.PostAsync("/api/queues/settles.dlq/redrive", null), HttpStatusCode.OK))!;
        Assert.Equal(1, redriven["moved"]!.GetValue<long>());
    }

    [Fact]
    public async Task A_partitioned_queue_is_received_from_across_its_partitions_and_each_lock_token_settles_its_own()
    {
        await CreateQueueAsync(Admin, "wide", new { partitions = 4 });
        var batch = Enumerable.Range(0, 40).Select(i => new { id = $"m{i}", body = $"{i}", orderingKey = $"k{i % 8}" }).ToArray();
        await ExpectAsync(await Admin.PostAsync("/api/queues/wide/messages/batch", Json(batch)), HttpStatusCode.Created);

        var received = new List<JsonNode>();
        for (var round = 0; round < 40 && received.Count < 40; round++)
        {
            var some = await ReceiveAsync(Admin, "wide", max: 40, wait: 5);
            foreach (var delivery in some)
            {
                await ExpectAsync(await SettleAsync(Admin, "wide", delivery!, "complete"), HttpStatusCode.NoContent);
            }

            received.AddRange(some!);
        }

        Assert.Equal(batch.Select(m => m.id).Order(), received.Select(d => d["messageId"]!.GetValue<string>()).Order());
        Assert.True(received.Select(d => d["lockToken"]!.GetValue<string>().Split('.')[0]).Distinct().Count() > 1, "deliveries came from one partition only");
        var info = JsonNode.Parse(await ExpectAsync(await Admin.GetAsync("/api/queues/wide"), HttpStatusCode.OK))!;
        Assert.Equal(0, info["ready"]!.GetValue<long>() + info["inFlight"]!.GetValue<long>());
    }

    [Fact]
    public async Task Publishing_to_a_queue_that_does_not_exist_is_404_and_creates_nothing()
    {
        await ExpectProblemAsync(await Admin.PostAsync("/api/queues/nowhere/messages", new StringContent("x")), HttpStatusCode.NotFound, "QueueNotFound");
        await ExpectProblemAsync(await Admin.GetAsync("/api/queues/nowhere"), HttpStatusCode.NotFound, "QueueNotFound");
        Assert.DoesNotContain("nowhere", await ExpectAsync(await Admin.GetAsync("/api/queues"), HttpStatusCode.OK));
    }

    [Fact]
    public async Task Two_tenants_have_two_queues_of_one_name_and_neither_sees_the_other()
    {
        var alpha = _broker.Client(Bearer(await _broker.CreateKeyAsync("alpha-app", Everything("alpha"))));
        var beta = _broker.Client(Bearer(await _broker.CreateKeyAsync("beta-app", Everything("beta"))));
        await CreateQueueAsync(alpha, "orders");
        await CreateQueueAsync(beta, "orders");
        await ExpectAsync(await alpha.PostAsync("/api/queues/orders/messages", new StringContent("for alpha")), HttpStatusCode.Created);

        await ExpectAsync(await beta.PostAsync("/api/queues/orders/messages/receive", null), HttpStatusCode.NoContent);
        Assert.Equal("for alpha", Assert.Single(await ReceiveAsync(alpha, "orders"))!["body"]!.GetValue<string>());
        var listed = JsonNode.Parse(await ExpectAsync(await beta.GetAsync("/api/queues"), HttpStatusCode.OK))!.AsArray();
        Assert.Equal("orders", Assert.Single(listed)!["name"]!.GetValue<string>());

        // Beta may not act in alpha's tenant, whatever it names.
        beta.DefaultRequestHeaders.Add("Broker-Tenant", "alpha");
        await ExpectProblemAsync(await beta.PostAsync("/api/queues/orders/messages/receive", null), HttpStatusCode.Forbidden, "Forbidden");
        await ExpectProblemAsync(await alpha.PostAsync("/api/queues/beta@orders/messages", new StringContent("x")), HttpStatusCode.BadRequest, "InvalidName");

        // Inside the cluster they are two queues, as the trusted .NET client sees them.
        var names = await _broker.Cluster.Admin.ListQueuesAsync();
        Assert.Contains("alpha@orders", names);
        Assert.Contains("beta@orders", names);
    }

    [Fact]
    public async Task A_deleted_key_is_refused_at_once_and_a_user_signs_in_with_its_password()
    {
        var key = await _broker.CreateKeyAsync("short-lived", Everything(Tenants.Default));
        var service = _broker.Client(Bearer(key));
        await ExpectAsync(await service.GetAsync("/api/whoami"), HttpStatusCode.OK);
        await ExpectAsync(await Admin.DeleteAsync("/api/principals/short-lived"), HttpStatusCode.NoContent);
        await ExpectProblemAsync(await service.GetAsync("/api/whoami"), HttpStatusCode.Unauthorized, "Unauthenticated");
        await ExpectProblemAsync(await _broker.Client(Bearer(key[..^2] + "xx")).GetAsync("/api/whoami"), HttpStatusCode.Unauthorized);

        await ExpectAsync(await Admin.PutAsync("/api/users/ops", Json(new { password = "correct horse", access = Everything(Tenants.Default) })), HttpStatusCode.Created);
        var listed = await ExpectAsync(await Admin.GetAsync("/api/principals"), HttpStatusCode.OK);
        Assert.DoesNotContain("correct horse", listed);
        Assert.DoesNotContain("pbkdf2", listed);
        await ExpectAsync(await _broker.Client(Basic("ops", "correct horse")).GetAsync("/api/whoami"), HttpStatusCode.OK);
        await ExpectProblemAsync(await _broker.Client(Basic("ops", "wrong horse")).GetAsync("/api/whoami"), HttpStatusCode.Unauthorized);
        await ExpectAsync(await Admin.PutAsync("/api/users/ops/password", Json(new { password = "battery staple" })), HttpStatusCode.OK);
        await ExpectProblemAsync(await _broker.Client(Basic("ops", "correct horse")).GetAsync("/api/whoami"), HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_topic_publish_reaches_the_subscriptions_its_routing_key_matches()
    {
        await ExpectAsync(await Admin.PutAsync("/api/topics/events", Json(new { })), HttpStatusCode.OK);
        await ExpectAsync(await Admin.PutAsync("/api/topics/events/subscriptions/eu", Json(new { filter = new { routingKeys = new[] { "order.eu.*" } } })), HttpStatusCode.OK);
        await ExpectAsync(await Admin.PutAsync("/api/topics/events/subscriptions/all", Json(new { })), HttpStatusCode.OK);

        var publish = new HttpRequestMessage(HttpMethod.Post, "/api/topics/events/messages") { Content = new StringContent("placed") };
        publish.Headers.Add("Broker-Routing-Key", "order.eu.placed");
        var receipt = JsonNode.Parse(await ExpectAsync(await Admin.SendAsync(publish), HttpStatusCode.Created))!;
        Assert.Equal(["all", "eu"], receipt["subscriptions"]!.AsArray().Select(s => s!.GetValue<string>()).Order());
        var us = new HttpRequestMessage(HttpMethod.Post, "/api/topics/events/messages") { Content = new StringContent("shipped") };
        us.Headers.Add("Broker-Routing-Key", "order.us.shipped");
        await ExpectAsync(await Admin.SendAsync(us), HttpStatusCode.Created);

        var eu = await ReceiveAsync(Admin, "events/subscriptions/eu", max: 10, topicSubscription: true);
        Assert.Equal("placed", Assert.Single(eu)!["body"]!.GetValue<string>());
        await ExpectAsync(await SettleAsync(Admin, "events/subscriptions/eu", eu[0]!, "complete", topicSubscription: true), HttpStatusCode.NoContent);
        Assert.Equal(2, (await ReceiveAsync(Admin, "events%2Fall", max: 10)).Count);
    }

    [Fact]
    public async Task The_overview_sums_the_tenants_queues_and_lists_the_silos_and_the_openapi_document_describes_the_routes()
    {
        await CreateQueueAsync(Admin, "first");
        await CreateQueueAsync(Admin, "second");
        await ExpectAsync(await Admin.PostAsync("/api/queues/first/messages/batch", Json(new[] { new { body = "a" }, new { body = "b" }, new { body = "c" } })), HttpStatusCode.Created);
        await ReceiveAsync(Admin, "first");

        var overview = JsonNode.Parse(await ExpectAsync(await Admin.GetAsync("/api/overview"), HttpStatusCode.OK))!;
        Assert.Equal(2, overview["queues"]!.GetValue<int>());
        Assert.Equal(2, overview["messages"]!["ready"]!.GetValue<long>());
        Assert.Equal(1, overview["messages"]!["inFlight"]!.GetValue<long>());
        Assert.Equal(3, overview["counters"]!["published"]!.GetValue<long>());
        Assert.Equal("active", Assert.Single(overview["silos"]!.AsArray())!["status"]!.GetValue<string>());

        // Rates come from successive readings at least a second apart, as a console polling the list sees them.
        await Eventually.HoldsAsync(async () => JsonNode.Parse(await (await Admin.GetAsync("/api/queues/first")).Content.ReadAsStringAsync())!["rates"] is JsonObject rates
            && rates["published"]!.GetValue<double>() == 0, "the queue shows its rates");

        var openApi = JsonNode.Parse(await ExpectAsync(await Admin.GetAsync("/openapi/v1.json"), HttpStatusCode.OK))!;
        var paths = openApi["paths"]!.AsObject();
        Assert.Contains("/api/queues/{queue}/messages", paths.Select(p => p.Key));
        Assert.Contains("/api/topics/{topic}/subscriptions/{subscription}/messages/receive", paths.Select(p => p.Key));
        await ExpectProblemAsync(await _broker.Client().GetAsync("/openapi/v1.json"), HttpStatusCode.Unauthorized);
    }
}
