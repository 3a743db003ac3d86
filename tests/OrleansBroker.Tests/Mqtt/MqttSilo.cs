using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using OrleansBroker.Identity;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using static OrleansBroker.Tests.Http.HttpBroker;

namespace OrleansBroker.Tests.Mqtt;

/// <summary>
/// One silo-host process for a class of MQTT tests, as a user runs it (MQTT on a free port), with principals made over its
/// HTTP API and an Orleans client on its gateway for the .NET side.
/// </summary>
public sealed class MqttSilo : IAsyncLifetime
{
    public const string AdminPassword = "mqtt-admin-password";
    public const string SensorPassword = "sensor-password";

    /// <summary>Most body bytes of a message on this silo (Broker:MaxMessageBytes), low so an oversize publish is cheap.</summary>
    public const int MaxMessageBytes = 64 * 1024;

    private readonly TestData _data = new();
    private SiloProcess? _silo;

    public SiloProcess Silo => _silo!;

    public int Port => Silo.MqttPort;

    public GatewayClient Dotnet { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var gatewayPort = RealProcess.FreePort();
        _silo = new SiloProcess(_data.Directory, RealProcess.FreePort(), gatewayPort,
            "--Broker:Http:AdminPassword", AdminPassword, "--max-message-bytes", $"{MaxMessageBytes}");
        await _silo.WaitUntilReadyAsync();
        Dotnet = await GatewayClient.ConnectAsync(gatewayPort);
        using var http = new HttpClient { BaseAddress = Silo.HttpAddress };
        http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"admin:{AdminPassword}")));

        // sensor: publishes and subscribes under sensors/ only. stranger: permissions in another tenant only.
        await ExpectAsync(await http.PutAsync("/api/users/sensor", Json(new
        {
            password = SensorPassword,
            access = new PrincipalAccess(Tenants.Default, [new TenantPermission(Tenants.Default, "", "mqtt/sensors/*", "mqtt/sensors/*")]),
        })), HttpStatusCode.Created);
        await ExpectAsync(await http.PutAsync("/api/users/stranger", Json(new
        {
            password = SensorPassword,
            access = new PrincipalAccess(Tenants.Default, [new TenantPermission("elsewhere", "*", "*", "*")]),
        })), HttpStatusCode.Created);
    }

    /// <summary>An MQTTnet client, connected (the test fails when the broker refuses it).</summary>
    public async Task<MqttTestClient> ConnectAsync(string? clientId = null, string? user = "admin", string? password = AdminPassword,
        MqttProtocolVersion version = MqttProtocolVersion.V500, bool clean = true, uint sessionExpiry = 0, Action<MqttClientOptionsBuilder>? configure = null)
    {
        var client = await TryConnectAsync(clientId, user, password, version, clean, sessionExpiry, configure);
        Assert.Equal(MqttClientConnectResultCode.Success, client.Connected!.ResultCode);
        return client;
    }

    /// <summary>An MQTTnet client after its CONNECT, accepted or not (see <see cref="MqttTestClient.Connected"/>).</summary>
    public async Task<MqttTestClient> TryConnectAsync(string? clientId = null, string? user = "admin", string? password = AdminPassword,
        MqttProtocolVersion version = MqttProtocolVersion.V500, bool clean = true, uint sessionExpiry = 0, Action<MqttClientOptionsBuilder>? configure = null)
    {
        var client = new MqttTestClient();
        await client.ConnectAsync(Port, clientId ?? $"c-{Guid.NewGuid():N}", user, password, version, clean, sessionExpiry, configure);
        return client;
    }

    public async Task DisposeAsync()
    {
        await Dotnet.DisposeAsync();
        _silo?.Dispose();
        _data.Dispose();
    }
}

/// <summary>An MQTTnet client that records what it receives (and acknowledges it as MQTTnet does, once recorded).</summary>
public sealed class MqttTestClient : IAsyncDisposable
{
    public IMqttClient Client { get; } = new MqttClientFactory().CreateMqttClient();

    public ConcurrentQueue<MqttApplicationMessage> Received { get; } = new();

    public MqttClientConnectResult? Connected { get; private set; }

    /// <summary>Why the broker disconnected it, when it did.</summary>
    public MqttClientDisconnectedEventArgs? Disconnected { get; private set; }

    public IEnumerable<string> Payloads => Received.Select(m => m.ConvertPayloadToString());

    public async Task ConnectAsync(int port, string clientId, string? user, string? password, MqttProtocolVersion version, bool clean, uint sessionExpiry,
        Action<MqttClientOptionsBuilder>? configure = null)
    {
        Client.ApplicationMessageReceivedAsync += e =>
        {
            Received.Enqueue(e.ApplicationMessage);
            return Task.CompletedTask;
        };
        Client.DisconnectedAsync += e =>
        {
            Disconnected = e;
            return Task.CompletedTask;
        };
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer(tcp => tcp.BufferSize = 256 * 1024) // MQTTnet's 8 KiB socket buffers stall a busy subscriber on Linux.
            .WithEndPoint(new IPEndPoint(IPAddress.Loopback, port))
            .WithClientId(clientId)
            .WithProtocolVersion(version)
            .WithCleanSession(clean)
            .WithTimeout(TimeSpan.FromSeconds(30));
        if (user is not null || password is not null)
        {
            options.WithCredentials(user ?? "", password);
        }

        if (version == MqttProtocolVersion.V500)
        {
            options.WithSessionExpiryInterval(sessionExpiry);
        }

        configure?.Invoke(options);
        using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
        Connected = await Client.ConnectAsync(options.Build(), timeout.Token);
    }

    public async Task SubscribeAsync(string filter, MQTTnet.Protocol.MqttQualityOfServiceLevel qos = MQTTnet.Protocol.MqttQualityOfServiceLevel.AtLeastOnce) =>
        Assert.All((await Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter(filter, qos).Build())).Items,
            item => Assert.True(item.ResultCode <= MqttClientSubscribeResultCode.GrantedQoS2, $"subscribe to {filter}: {item.ResultCode}"));

    public async ValueTask DisposeAsync()
    {
        if (Client.IsConnected)
        {
            try
            {
                using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await Client.DisconnectAsync(new MqttClientDisconnectOptions(), timeout.Token);
            }
            catch (Exception)
            {
                // Gone already.
            }
        }

        Client.Dispose();
    }
}

/// <summary>Debian's mosquitto clients, a client no one here wrote: installed on first use (see <see cref="DebianPackage"/>).</summary>
public static class Mosquitto
{
    public static Task<string> PubAsync() => DebianPackage.EnsureAsync("/usr/bin/mosquitto_pub", "mosquitto-clients", "The MQTT interoperation tests");

    public static Task<string> SubAsync() => DebianPackage.EnsureAsync("/usr/bin/mosquitto_sub", "mosquitto-clients", "The MQTT interoperation tests");
}
