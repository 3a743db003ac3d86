using System.Net;
using System.Net.Http.Headers;
using OrleansBroker.Identity;
using Xunit;
using static OrleansBroker.Tests.Http.HttpBroker;

namespace OrleansBroker.Tests.Http;

/// <summary>
/// Every route of the API, called by every kind of caller, on resources of tenant <c>t1</c> made fresh for each call:
/// anonymous (401 everywhere but health), a principal of another tenant, one that may only receive, only send, only
/// manage, and an administrator. Each gets exactly the status its permissions say.
/// </summary>
public sealed class HttpAuthorizationMatrixTests : IAsyncLifetime
{
    private const string Tenant = "t1";

    private HttpBroker _broker = null!;

    private enum Need
    {
        Anyone,
        SignedIn,
        Tenant,
        Manage,
        Send,
        Receive,
        Administrator,
    }

    private sealed record Route(string Method, string Path, Need Need, HttpStatusCode Success, Func<Cell, object?>? Body = null);

    /// <summary>What one call addresses: a queue with messages (one of them leased), a topic whose subscription holds some, a user.</summary>
    private sealed record Cell(string Queue, string Topic, long Sequence, string Lock, long SubscriptionSequence, string SubscriptionLock, string User, string NewName);

    private static readonly Route[] Routes =
    [
        new("GET", "/healthz", Need.Anyone, HttpStatusCode.OK),
        new("GET", "/readyz", Need.Anyone, HttpStatusCode.OK),
        new("GET", "/api/whoami", Need.SignedIn, HttpStatusCode.OK),
        new("GET", "/api/queues", Need.Tenant, HttpStatusCode.OK),
        new("GET", "/api/overview", Need.Tenant, HttpStatusCode.OK),
        new("GET", "/openapi/v1.json", Need.SignedIn, HttpStatusCode.OK),
        new("GET", "/api/definitions", Need.Administrator, HttpStatusCode.OK),
        new("POST", "/api/definitions", Need.Administrator, HttpStatusCode.OK, _ => new { }),
        new("PUT", "/api/queues/{q}", Need.Manage, HttpStatusCode.OK, _ => new { }),
        new("GET", "/api/queues/{q}", Need.Manage, HttpStatusCode.OK),
        new("POST", "/api/queues/{q}/purge", Need.Manage, HttpStatusCode.OK),
        new("GET", "/api/queues/{q}/messages", Need.Manage, HttpStatusCode.OK),
        new("POST", "/api/queues/{q}/redrive", Need.Manage, HttpStatusCode.OK),
        new("DELETE", "/api/queues/{q}", Need.Manage, HttpStatusCode.NoContent),
        new("POST", "/api/queues/{q}/messages", Need.Send, HttpStatusCode.Created),
        new("POST", "/api/queues/{q}/messages/batch", Need.Send, HttpStatusCode.Created, _ => new[] { new { body = "b" } }),
        new("POST", "/api/queues/{q}/messages/receive", Need.Receive, HttpStatusCode.OK),
        new("POST", "/api/queues/{q}/messages/{seq}/complete", Need.Receive, HttpStatusCode.NoContent, c => new { lockToken = c.Lock }),
        new("POST", "/api/queues/{q}/messages/{seq}/abandon", Need.Receive, HttpStatusCode.NoContent, c => new { lockToken = c.Lock }),
        new("POST", "/api/queues/{q}/messages/{seq}/dead-letter", Need.Receive, HttpStatusCode.NoContent, c => new { lockToken = c.Lock }),
        new("POST", "/api/queues/{q}/messages/{seq}/renew", Need.Receive, HttpStatusCode.OK, c => new { lockToken = c.Lock }),
        new("GET", "/api/topics", Need.Tenant, HttpStatusCode.OK),
        new("PUT", "/api/topics/{t}", Need.Manage, HttpStatusCode.OK, _ => new { }),
        new("GET", "/api/topics/{t}", Need.Manage, HttpStatusCode.OK),
        new("DELETE", "/api/topics/{t}", Need.Manage, HttpStatusCode.NoContent),
        new("POST", "/api/topics/{t}/messages", Need.Send, HttpStatusCode.Created),
        new("POST", "/api/topics/{t}/messages/batch", Need.Send, HttpStatusCode.Created, _ => new[] { new { body = "b" } }),
        new("PUT", "/api/topics/{t}/subscriptions/other", Need.Manage, HttpStatusCode.OK, _ => new { }),
        new("GET", "/api/topics/{t}/subscriptions/s", Need.Manage, HttpStatusCode.OK),
        new("DELETE", "/api/topics/{t}/subscriptions/s", Need.Manage, HttpStatusCode.NoContent),
        new("POST", "/api/topics/{t}/subscriptions/s/messages/receive", Need.Receive, HttpStatusCode.OK),
        new("POST", "/api/topics/{t}/subscriptions/s/messages/{sseq}/complete", Need.Receive, HttpStatusCode.NoContent, c => new { lockToken = c.SubscriptionLock }),
        new("GET", "/api/principals", Need.Administrator, HttpStatusCode.OK),
        new("GET", "/api/principals/{user}", Need.Administrator, HttpStatusCode.OK),
        new("PUT", "/api/principals/{user}/access", Need.Administrator, HttpStatusCode.OK, _ => new { tenant = Tenant, permissions = Array.Empty<object>() }),
        new("DELETE", "/api/principals/{user}", Need.Administrator, HttpStatusCode.NoContent),
        new("POST", "/api/keys/{new}", Need.Administrator, HttpStatusCode.Created, _ => new { access = new { tenant = Tenant, permissions = Array.Empty<object>() } }),
        new("PUT", "/api/users/{new}", Need.Administrator, HttpStatusCode.Created,
            _ => new { password = "password-1", access = new { tenant = Tenant, permissions = Array.Empty<object>() } }),
        new("PUT", "/api/users/{user}/password", Need.Administrator, HttpStatusCode.OK, _ => new { password = "password-2" }),
    ];

    public async Task InitializeAsync() => _broker = await HttpBroker.StartAsync();

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public async Task Every_route_answers_every_caller_as_its_permissions_say()
    {
        var callers = new (string Name, HttpClient Client, Func<Need, bool> Allowed)[]
        {
            ("anonymous", _broker.Client(null, Tenant), need => need == Need.Anyone),
            ("other tenant", _broker.Client(await KeyAsync("other", new("t2", [new TenantPermission("t2", "*", "*", "*")])), Tenant),
                need => need is Need.Anyone or Need.SignedIn),
            ("receive only", _broker.Client(await KeyAsync("receiver", new(Tenant, [new TenantPermission(Tenant, Receive: "*")])), Tenant),
                need => need is Need.Anyone or Need.SignedIn or Need.Tenant or Need.Receive),
            ("send only", _broker.Client(await KeyAsync("sender", new(Tenant, [new TenantPermission(Tenant, Send: "*")])), Tenant),
                need => need is Need.Anyone or Need.SignedIn or Need.Tenant or Need.Send),
            ("manage only", _broker.Client(await KeyAsync("manager", new(Tenant, [new TenantPermission(Tenant, Manage: "*")])), Tenant),
                need => need is Need.Anyone or Need.SignedIn or Need.Tenant or Need.Manage),
            ("administrator", _broker.Client(Basic("admin", AdminPassword), Tenant), _ => true),
        };

        var wrong = new List<string>();
        var number = 0;
        foreach (var route in Routes)
        {
            foreach (var (name, client, allowed) in callers)
            {
                var cell = await PrepareAsync(route, ++number);
                var path = route.Path.Replace("{q}", cell.Queue).Replace("{t}", cell.Topic).Replace("{seq}", $"{cell.Sequence}")
                    .Replace("{sseq}", $"{cell.SubscriptionSequence}").Replace("{user}", cell.User).Replace("{new}", cell.NewName);
                using var request = new HttpRequestMessage(new HttpMethod(route.Method), path);
                request.Content = route.Body?.Invoke(cell) is { } body ? Json(body) : route.Method == "POST" && route.Path.EndsWith("/messages", StringComparison.Ordinal) ? new StringContent("m") : null;
                using var response = await client.SendAsync(request);
                var expected = allowed(route.Need) ? route.Success
                    : name == "anonymous" ? HttpStatusCode.Unauthorized
                    : HttpStatusCode.Forbidden;
                if (response.StatusCode != expected)
                {
                    wrong.Add($"{route.Method} {route.Path} as {name}: expected {(int)expected}, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
                }
                else if ((int)expected >= 400)
                {
                    Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
                }
            }
        }

        Assert.True(wrong.Count == 0, string.Join('\n', wrong));
    }

    private async Task<AuthenticationHeaderValue> KeyAsync(string name, PrincipalAccess access) => Bearer(await _broker.CreateKeyAsync(name, access));

    /// <summary>Fresh resources for one call, made by the administrator in tenant t1: only what the route touches.</summary>
    private async Task<Cell> PrepareAsync(Route route, int number)
    {
        var admin = _broker.Client(Basic("admin", AdminPassword), Tenant);
        var (queue, topic, user) = ($"q{number}", $"t{number}", $"user{number}");
        long sequence = 0, subscriptionSequence = 0;
        string lockToken = "", subscriptionLock = "";
        if (route.Path.Contains("{q}", StringComparison.Ordinal))
        {
            await CreateQueueAsync(admin, queue);
            await ExpectAsync(await admin.PostAsync($"/api/queues/{queue}/messages/batch", Json(new[] { new { body = "1" }, new { body = "2" } })), HttpStatusCode.Created);
            var leased = (await ReceiveAsync(admin, queue))[0]!;
            (sequence, lockToken) = (leased["sequence"]!.GetValue<long>(), leased["lockToken"]!.GetValue<string>());
        }

        if (route.Path.Contains("{t}", StringComparison.Ordinal))
        {
            await ExpectAsync(await admin.PutAsync($"/api/topics/{topic}", Json(new { })), HttpStatusCode.OK);
            await ExpectAsync(await admin.PutAsync($"/api/topics/{topic}/subscriptions/s", Json(new { })), HttpStatusCode.OK);
            await ExpectAsync(await admin.PostAsync($"/api/topics/{topic}/messages/batch", Json(new[] { new { body = "1" }, new { body = "2" } })), HttpStatusCode.Created);
            var leased = (await ReceiveAsync(admin, $"{topic}/subscriptions/s", topicSubscription: true))[0]!;
            (subscriptionSequence, subscriptionLock) = (leased["sequence"]!.GetValue<long>(), leased["lockToken"]!.GetValue<string>());
        }

        if (route.Path.Contains("{user}", StringComparison.Ordinal))
        {
            await ExpectAsync(await admin.PostAsync($"/api/keys/{user}", Json(new { access = new { tenant = Tenant, permissions = Array.Empty<object>() } })), HttpStatusCode.Created);
            if (route.Path.EndsWith("/password", StringComparison.Ordinal))
            {
                await ExpectAsync(await admin.DeleteAsync($"/api/principals/{user}"), HttpStatusCode.NoContent);
                await ExpectAsync(await admin.PutAsync($"/api/users/{user}", Json(new { password = "password-0", access = new { tenant = Tenant, permissions = Array.Empty<object>() } })),
                    HttpStatusCode.Created);
            }
        }

        return new Cell(queue, topic, sequence, lockToken, subscriptionSequence, subscriptionLock, user, $"new{number}");
    }
}
