using System.Net.Http.Headers;
using System.Text;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Push;

/// <summary>
/// One silo-host process for a class of push tests, allowed to push to loopback (as a user allows a host), its circuit's
/// pauses capped at 1 s so a dead endpoint is retried quickly; a webhook receiver on a free port; a .NET client and the
/// HTTP API signed in as the administrator.
/// </summary>
public sealed class PushSilo : IAsyncLifetime
{
    public const string AdminPassword = "push-admin-password";
    public const string Secret = "a-push-secret-of-enough-length";

    private readonly TestData _data = new();
    private SiloProcess? _silo;

    public SiloProcess Silo => _silo!;

    public PushReceiver Receiver { get; private set; } = null!;

    public GatewayClient Dotnet { get; private set; } = null!;

    public HttpClient Http { get; private set; } = null!;

    /// <summary>The obroker CLI on this silo's gateway.</summary>
    public ObrokerCli Cli { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        Receiver = await PushReceiver.StartAsync();
        var gatewayPort = RealProcess.FreePort();
        _silo = new SiloProcess(_data.Directory, RealProcess.FreePort(), gatewayPort,
            "--Broker:Http:AdminPassword", AdminPassword, "--Broker:Push:AllowedHosts:0", "127.0.0.1", "--Broker:Push:MaxPause", "00:00:01");
        await _silo.WaitUntilReadyAsync();
        Dotnet = await GatewayClient.ConnectAsync(gatewayPort);
        Cli = new ObrokerCli(_data.Directory, gatewayPort);
        Http = new HttpClient { BaseAddress = Silo.HttpAddress };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"admin:{AdminPassword}")));
    }

    /// <summary>A queue with a unique name pushing to <paramref name="hook"/>.</summary>
    public async Task<string> CreateQueueAsync(PushReceiver.Hook hook, QueueOptions? options = null, PushPayload payload = PushPayload.Raw)
    {
        var name = $"push-{Guid.NewGuid():N}"[..20];
        await Dotnet.Admin.CreateQueueAsync(name, (options ?? new QueueOptions()) with { Push = Endpoint(hook, payload) });
        return name;
    }

    public static PushEndpoint Endpoint(PushReceiver.Hook hook, PushPayload payload = PushPayload.Raw) =>
        new() { Url = hook.Url, Secrets = [Secret], Payload = payload, Headers = new Dictionary<string, string> { ["Authorization"] = "Bearer hook-token" } };

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        await Dotnet.DisposeAsync();
        _silo?.Dispose();
        await Receiver.DisposeAsync();
        _data.Dispose();
    }
}
