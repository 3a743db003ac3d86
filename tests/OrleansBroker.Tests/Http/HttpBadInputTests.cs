using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using Xunit;
using static OrleansBroker.Tests.Http.HttpBroker;

namespace OrleansBroker.Tests.Http;

/// <summary>
/// Bad input of every kind over HTTP: each is a problem+json 4xx with the broker's code, never a 500; the silo keeps serving
/// and the messages it had accepted are all still there, in order.
/// </summary>
public sealed class HttpBadInputTests : IAsyncLifetime
{
    private HttpBroker _broker = null!;

    public async Task InitializeAsync() => _broker = await HttpBroker.StartAsync();

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public async Task Every_bad_request_is_a_typed_4xx_and_nothing_accepted_before_is_lost()
    {
        var admin = _broker.Admin;
        await CreateQueueAsync(admin, "kept", new { maxDeliveryAttempts = 3 });
        var accepted = Enumerable.Range(0, 20).Select(i => new { id = $"m{i:00}", body = $"body {i}" }).ToArray();
        await ExpectAsync(await admin.PostAsync("/api/queues/kept/messages/batch", Json(accepted)), HttpStatusCode.Created);
        var leased = (await ReceiveAsync(admin, "kept"))[0]!;
        var random = new Random(20261206);
        byte[] RandomBytes(int count)
        {
            var bytes = new byte[count];
            random.NextBytes(bytes);
            return bytes;
        }

        var cases = new (string What, Func<HttpRequestMessage> Request, HttpStatusCode Status, string? Code)[]
        {
            ("a name with a space", () => Post("/api/queues/bad%20name/messages", "x"), HttpStatusCode.BadRequest, "InvalidName"),
            ("a name with a tenant in it", () => Post("/api/queues/other@kept/messages", "x"), HttpStatusCode.BadRequest, "InvalidName"),
            ("a name too long", () => Post($"/api/queues/{new string('q', 201)}/messages", "x"), HttpStatusCode.BadRequest, "InvalidName"),
            ("a body over the message size", () => Post("/api/queues/kept/messages", new string('x', 1024 * 1024 + 1)), HttpStatusCode.RequestEntityTooLarge, "MessageTooLarge"),
            ("a priority out of range", () => Post("/api/queues/kept/messages", "x", ("Broker-Priority", "99")), HttpStatusCode.BadRequest, "InvalidMessage"),
            ("a priority that is no number", () => Post("/api/queues/kept/messages", "x", ("Broker-Priority", "high")), HttpStatusCode.BadRequest, "InvalidMessage"),
            ("a negative delay", () => Post("/api/queues/kept/messages", "x", ("Broker-Delay", "-5")), HttpStatusCode.BadRequest, "InvalidMessage"),
            ("a deliver-at that is no time", () => Post("/api/queues/kept/messages", "x", ("Broker-Deliver-At", "tomorrowish")), HttpStatusCode.BadRequest, "InvalidMessage"),
            ("a reserved header", () => Post("/api/queues/kept/messages", "x", ("Broker-Header-x-broker-source-queue", "elsewhere")), HttpStatusCode.BadRequest, "InvalidMessage"),
            ("a message id too long", () => Post("/api/queues/kept/messages", "x", ("Broker-Message-Id", new string('i', 200))), HttpStatusCode.BadRequest, "InvalidMessage"),
            ("too many headers", () => Post("/api/queues/kept/messages", "x", [.. Enumerable.Range(0, 65).Select(i => ($"Broker-Header-h{i}", "v"))]), HttpStatusCode.BadRequest, "InvalidMessage"),
            ("an empty batch", () => Post("/api/queues/kept/messages/batch", "[]", json: true), HttpStatusCode.BadRequest, "InvalidBatch"),
            ("a batch over 1000", () => Post("/api/queues/kept/messages/batch", "[" + string.Join(',', Enumerable.Repeat("{\"body\":\"x\"}", 1001)) + "]", json: true),
                HttpStatusCode.BadRequest, "InvalidBatch"),
            ("a batch that is not JSON", () => Post("/api/queues/kept/messages/batch", "{not json", json: true), HttpStatusCode.BadRequest, "InvalidMessage"),
            ("a batch sent as text", () => Post("/api/queues/kept/messages/batch", "[{\"body\":\"x\"}]"), HttpStatusCode.UnsupportedMediaType, "InvalidMessage"),
            ("a batch message with both bodies", () => Post("/api/queues/kept/messages/batch", "[{\"body\":\"x\",\"bodyBase64\":\"eA==\"}]", json: true),
                HttpStatusCode.BadRequest, "InvalidMessage"),
            ("a batch message with bad base64", () => Post("/api/queues/kept/messages/batch", "[{\"bodyBase64\":\"%%%\"}]", json: true), HttpStatusCode.BadRequest, "InvalidMessage"),
            ("random bytes as a batch", () => Post("/api/queues/kept/messages/batch", RandomBytes(4096), "application/json"), HttpStatusCode.BadRequest, "InvalidMessage"),
            ("random bytes as queue options", () => Put("/api/queues/kept", RandomBytes(512)), HttpStatusCode.BadRequest, "InvalidOptions"),
            ("options out of range", () => Put("/api/queues/fresh", "{\"maxDeliveryAttempts\": -1}"), HttpStatusCode.BadRequest, "InvalidOptions"),
            ("an option of the wrong type", () => Put("/api/queues/fresh", "{\"leaseDuration\": \"soon\"}"), HttpStatusCode.BadRequest, "InvalidOptions"),
            ("an unknown option", () => Put("/api/queues/fresh", "{\"maxDeliveryAtempts\": 3}"), HttpStatusCode.BadRequest, "InvalidOptions"),
            ("an unknown overflow policy", () => Put("/api/queues/fresh", "{\"overflow\": \"explode\"}"), HttpStatusCode.BadRequest, "InvalidOptions"),
            ("a queue again with other options", () => Put("/api/queues/kept", "{\"maxDeliveryAttempts\": 4}"), HttpStatusCode.Conflict, "QueueExistsWithOtherOptions"),
            ("a malformed lock token", () => Post($"/api/queues/kept/messages/{leased["sequence"]}/complete", "{\"lockToken\":\"abc\"}", json: true),
                HttpStatusCode.BadRequest, "InvalidOptions"),
            ("a wrong lock token", () => Post($"/api/queues/kept/messages/{leased["sequence"]}/complete", "{\"lockToken\":\"0.12345\"}", json: true),
                HttpStatusCode.Conflict, "LeaseLost"),
            ("a lock token of another message", () => Post("/api/queues/kept/messages/19/complete", $"{{\"lockToken\":\"{leased["lockToken"]}\"}}", json: true),
                HttpStatusCode.Conflict, "LeaseLost"),
            ("a settle without a body", () => Post($"/api/queues/kept/messages/{leased["sequence"]}/complete", "", json: true), HttpStatusCode.BadRequest, "InvalidOptions"),
            ("a renewal too long", () => Post($"/api/queues/kept/messages/{leased["sequence"]}/renew", $"{{\"lockToken\":\"{leased["lockToken"]}\",\"leaseSeconds\":1e9}}", json: true),
                HttpStatusCode.BadRequest, "InvalidMessage"),
            ("a receive of too many", () => Post("/api/queues/kept/messages/receive?max=100000", ""), HttpStatusCode.BadRequest, "InvalidOptions"),
            ("a receive of none", () => Post("/api/queues/kept/messages/receive?max=0", ""), HttpStatusCode.BadRequest, "InvalidOptions"),
            ("a receive waiting too long", () => Post("/api/queues/kept/messages/receive?wait=99", ""), HttpStatusCode.BadRequest, "InvalidOptions"),
            ("a receive with a word for a number", () => Post("/api/queues/kept/messages/receive?max=lots", ""), HttpStatusCode.BadRequest, "InvalidOptions"),
            ("a peek after a word", () => new HttpRequestMessage(HttpMethod.Get, "/api/queues/kept/messages?after=start"), HttpStatusCode.BadRequest, "InvalidOptions"),
            ("a route that is not there", () => new HttpRequestMessage(HttpMethod.Get, "/api/nothing/here"), HttpStatusCode.NotFound, null),
            ("a sequence that is no number", () => Post("/api/queues/kept/messages/first/complete", "{}", json: true), HttpStatusCode.NotFound, null),
            ("a method the route does not take", () => new HttpRequestMessage(HttpMethod.Patch, "/api/queues/kept"), HttpStatusCode.MethodNotAllowed, null),
            ("a user with a short password", () => Put("/api/users/shorty", "{\"password\":\"short\",\"access\":{\"tenant\":\"\",\"permissions\":[]}}"),
                HttpStatusCode.BadRequest, "InvalidOptions"),
            ("a user with no access", () => Put("/api/users/noaccess", "{\"password\":\"long enough\"}"), HttpStatusCode.BadRequest, "InvalidOptions"),
            ("a permission pattern with control characters", () => Put("/api/users/ctl", "{\"password\":\"long enough\",\"access\":{\"tenant\":\"\",\"permissions\":[{\"tenant\":\"\",\"manage\":\"a\\u0001\"}]}}"),
                HttpStatusCode.BadRequest, "InvalidOptions"),
            ("a bad tenant header", () => WithTenant(new HttpRequestMessage(HttpMethod.Get, "/api/queues"), "no tenant!"), HttpStatusCode.BadRequest, "InvalidName"),
        };

        var wrong = new List<string>();
        foreach (var (what, make, status, code) in cases)
        {
            using var request = make();
            using var response = await admin.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            var problem = response.Content.Headers.ContentType?.MediaType == "application/problem+json" ? JsonNode.Parse(body) : null;
            if (response.StatusCode != status || problem is null || (code is not null && problem["code"]?.GetValue<string>() != code))
            {
                wrong.Add($"{what}: expected {(int)status} {code}, got {(int)response.StatusCode} {response.Content.Headers.ContentType} {body}");
            }
        }

        // Random bytes where credentials go are a 401, like any wrong credentials.
        var garbled = _broker.Client();
        garbled.DefaultRequestHeaders.TryAddWithoutValidation("Authorization", "Basic " + Convert.ToBase64String(RandomBytes(40)));
        await ExpectProblemAsync(await garbled.GetAsync("/api/queues"), HttpStatusCode.Unauthorized, "Unauthenticated");

        Assert.True(wrong.Count == 0, string.Join('\n', wrong));
        await ExpectAsync(await _broker.Client().GetAsync("/healthz"), HttpStatusCode.OK);
        var peeked = JsonNode.Parse(await ExpectAsync(await admin.GetAsync("/api/queues/kept/messages?max=1000"), HttpStatusCode.OK))!.AsArray();
        Assert.Equal(accepted.Select(m => m.id), peeked.Select(m => m!["messageId"]!.GetValue<string>()));
        Assert.Equal(accepted.Select(m => m.body), peeked.Select(m => m!["body"]!.GetValue<string>()));
    }

    private static HttpRequestMessage Post(string path, string body, params (string Name, string Value)[] headers) => Post(path, body, json: false, headers);

    private static HttpRequestMessage Post(string path, string body, bool json, params (string Name, string Value)[] headers)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new StringContent(body, Encoding.UTF8, json ? "application/json" : "text/plain") };
        foreach (var (name, value) in headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        return request;
    }

    private static HttpRequestMessage Post(string path, byte[] body, string contentType)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        return new HttpRequestMessage(HttpMethod.Post, path) { Content = content };
    }

    private static HttpRequestMessage Put(string path, string json) =>
        new(HttpMethod.Put, path) { Content = new StringContent(json, Encoding.UTF8, "application/json") };

    private static HttpRequestMessage Put(string path, byte[] body)
    {
        var content = new ByteArrayContent(body);
        content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        return new HttpRequestMessage(HttpMethod.Put, path) { Content = content };
    }

    private static HttpRequestMessage WithTenant(HttpRequestMessage request, string tenant)
    {
        request.Headers.TryAddWithoutValidation("Broker-Tenant", tenant);
        return request;
    }
}
