using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.DependencyInjection;
using OrleansBroker.Http.Hosting;
using OrleansBroker.Identity;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Http;

/// <summary>
/// A silo (SQLite in a fresh folder) serving the HTTP API on a free loopback port through the production <c>AddBrokerHttp</c>,
/// and HTTP clients that sign in as its administrator or as principals a test makes. Requests go over real sockets to Kestrel.
/// </summary>
public sealed class HttpBroker : IAsyncDisposable
{
    public const string AdminPassword = "admin-password-for-tests";

    private readonly List<HttpClient> _clients = [];

    private HttpBroker(BrokerCluster cluster, Uri address)
    {
        Cluster = cluster;
        Address = address;
        Admin = Client(Basic("admin", AdminPassword));
    }

    public BrokerCluster Cluster { get; }

    public Uri Address { get; }

    /// <summary>Signed in as the first administrator.</summary>
    public HttpClient Admin { get; }

    /// <summary>Where each silo's HTTP API listens.</summary>
    public IReadOnlyList<Uri> SiloAddresses => [.. Cluster.Cluster.Silos.Select(s => new Uri(s.ServiceProvider
        .GetRequiredService<BrokerHttpServer>().Addresses.Single()))];

    public static async Task<HttpBroker> StartAsync(Action<BrokerHttpOptions>? configure = null, Action<SqliteBrokerStorageOptions>? sqlite = null,
        int silos = 1, Action<ISiloBuilder>? storage = null)
    {
        var cluster = await BrokerCluster.StartAsync(silos: silos, storage: storage, silo: silo => silo.AddBrokerHttp(http =>
        {
            http.Port = 0;
            http.AdminPassword = AdminPassword;
            configure?.Invoke(http);
        }), sqlite: sqlite);
        var server = cluster.SiloServices.GetRequiredService<BrokerHttpServer>();
        return new HttpBroker(cluster, new Uri(server.Addresses.Single()));
    }

    /// <summary>A client with <paramref name="authorization"/> on every request (none: anonymous).</summary>
    public HttpClient Client(AuthenticationHeaderValue? authorization = null, string? tenant = null)
    {
        var client = new HttpClient { BaseAddress = Address, Timeout = TimeSpan.FromSeconds(60) };
        client.DefaultRequestHeaders.Authorization = authorization;
        if (tenant is not null)
        {
            client.DefaultRequestHeaders.Add("Broker-Tenant", tenant);
        }

        _clients.Add(client);
        return client;
    }

    public static AuthenticationHeaderValue Basic(string user, string password) =>
        new("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}")));

    public static AuthenticationHeaderValue Bearer(string key) => new("Bearer", key);

    /// <summary>Makes an API key with <paramref name="access"/> through the API and returns its key.</summary>
    public async Task<string> CreateKeyAsync(string name, PrincipalAccess access)
    {
        var response = await Admin.PostAsync($"/api/keys/{name}", Json(new { access }));
        await ExpectAsync(response, HttpStatusCode.Created);
        return (await response.Content.ReadFromJsonAsync<JsonObject>())!["key"]!.GetValue<string>();
    }

    public static StringContent Json(object value) => new(JsonSerializer.Serialize(value, JsonOptions), Encoding.UTF8, "application/json");

    public static readonly JsonSerializerOptions JsonOptions = new(JsonSerializerDefaults.Web);

    /// <summary>Asserts the status, showing the body when it is another.</summary>
    public static async Task<string> ExpectAsync(HttpResponseMessage response, HttpStatusCode status)
    {
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"{response.RequestMessage?.Method} {response.RequestMessage?.RequestUri?.PathAndQuery}: expected {(int)status}, got {(int)response.StatusCode}: {body}");
        return body;
    }

    /// <summary>Asserts an error answer: the status, <c>application/problem+json</c>, and the broker's code.</summary>
    public static async Task<JsonObject> ExpectProblemAsync(HttpResponseMessage response, HttpStatusCode status, string? code = null)
    {
        var body = await ExpectAsync(response, status);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonNode.Parse(body)!.AsObject();
        Assert.Equal((int)status, problem["status"]!.GetValue<int>());
        if (code is not null)
        {
            Assert.Equal(code, problem["code"]?.GetValue<string>());
        }

        return problem;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var client in _clients)
        {
            client.Dispose();
        }

        await Cluster.DisposeAsync();
    }

    public static PrincipalAccess Everything(string tenant) => new(tenant, [new TenantPermission(tenant, "*", "*", "*")]);

    public static async Task CreateQueueAsync(HttpClient client, string queue, object? options = null) =>
        await ExpectAsync(await client.PutAsync($"/api/queues/{queue}", Json(options ?? new { })), HttpStatusCode.OK);

    public static async Task<List<JsonNode?>> ReceiveAsync(HttpClient client, string queue, int max = 1, double wait = 0, double? lease = null, bool topicSubscription = false)
    {
        var path = topicSubscription ? $"/api/topics/{queue}" : $"/api/queues/{queue}";
        var response = await client.PostAsync($"{path}/messages/receive?max={max}&wait={wait}" + (lease is { } l ? $"&lease={l}" : ""), null);
        if (response.StatusCode == HttpStatusCode.NoContent)
        {
            return [];
        }

        return [.. JsonNode.Parse(await ExpectAsync(response, HttpStatusCode.OK))!.AsArray()];
    }

    public static Task<HttpResponseMessage> SettleAsync(HttpClient client, string queue, JsonNode delivery, string outcome, object? extra = null, bool topicSubscription = false)
    {
        var path = topicSubscription ? $"/api/topics/{queue}" : $"/api/queues/{queue}";
        var body = new JsonObject { ["lockToken"] = delivery["lockToken"]!.GetValue<string>() };
        if (extra is not null)
        {
            foreach (var (name, value) in JsonNode.Parse(System.Text.Json.JsonSerializer.Serialize(extra, JsonOptions))!.AsObject())
            {
                body[name] = value?.DeepClone();
            }
        }

        return client.PostAsync($"{path}/messages/{delivery["sequence"]!.GetValue<long>()}/{outcome}", new StringContent(body.ToJsonString(), Encoding.UTF8, "application/json"));
    }
}
