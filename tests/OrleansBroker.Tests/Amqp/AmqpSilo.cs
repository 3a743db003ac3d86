using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Amqp;
using Amqp.Framing;
using OrleansBroker.Identity;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using static OrleansBroker.Tests.Http.HttpBroker;

namespace OrleansBroker.Tests.Amqp;

/// <summary>
/// One silo-host process for a class of AMQP tests, as a user runs it (AMQP on a free port), with principals made over its
/// HTTP API, an Orleans client on its gateway for the .NET side, and an HTTP client signed in as the administrator.
/// </summary>
public sealed class AmqpSilo : IAsyncLifetime
{
    public const string AdminPassword = "amqp-admin-password";
    public const string ClerkPassword = "clerk-password";

    /// <summary>Most body bytes of a message on this silo (Broker:MaxMessageBytes), low so an oversize send is cheap.</summary>
    public const int MaxMessageBytes = 64 * 1024;

    private readonly TestData _data = new();
    private SiloProcess? _silo;

    public SiloProcess Silo => _silo!;

    public int Port => Silo.AmqpPort;

    public GatewayClient Dotnet { get; private set; } = null!;

    public int GatewayPort { get; private set; }

    /// <summary>The HTTP API, signed in as the administrator.</summary>
    public HttpClient Http { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var gatewayPort = GatewayPort = RealProcess.FreePort();
        _silo = new SiloProcess(_data.Directory, RealProcess.FreePort(), gatewayPort,
            "--Broker:Http:AdminPassword", AdminPassword, "--max-message-bytes", $"{MaxMessageBytes}");
        await _silo.WaitUntilReadyAsync();
        Dotnet = await GatewayClient.ConnectAsync(gatewayPort);
        Http = new HttpClient { BaseAddress = Silo.HttpAddress };
        Http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"admin:{AdminPassword}")));

        // clerk: sends to and receives from orders-* only. stranger: permissions in another tenant only.
        await ExpectAsync(await Http.PutAsync("/api/users/clerk", Json(new
        {
            password = ClerkPassword,
            access = new PrincipalAccess(Tenants.Default, [new TenantPermission(Tenants.Default, "", "orders-*", "orders-*")]),
        })), HttpStatusCode.Created);
        await ExpectAsync(await Http.PutAsync("/api/users/stranger", Json(new
        {
            password = ClerkPassword,
            access = new PrincipalAccess(Tenants.Default, [new TenantPermission("elsewhere", "*", "*", "*")]),
        })), HttpStatusCode.Created);
    }

    /// <summary>An AMQP.Net Lite connection signed in with SASL PLAIN.</summary>
    public async Task<Connection> ConnectAsync(string user = "admin", string password = AdminPassword)
    {
        using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
        return await new ConnectionFactory().CreateAsync(new Address("127.0.0.1", Port, user, password, scheme: "amqp"), timeout.Token);
    }

    /// <summary>A unique queue name under <c>orders-</c> (the clerk's permissions reach it), created with <paramref name="options"/>.</summary>
    public async Task<string> CreateQueueAsync(OrleansBroker.Queues.QueueOptions? options = null)
    {
        var name = $"orders-{Guid.NewGuid():N}"[..20];
        await Dotnet.Admin.CreateQueueAsync(name, options);
        return name;
    }

    public async Task DisposeAsync()
    {
        Http?.Dispose();
        await Dotnet.DisposeAsync();
        _silo?.Dispose();
        _data.Dispose();
    }
}

/// <summary>Short forms for AMQP.Net Lite in tests.</summary>
public static class AmqpTestExtensions
{
    /// <summary>A message with a data body of <paramref name="text"/> in UTF-8.</summary>
    public static Message Text(string text, string? id = null) => new()
    {
        BodySection = new Data { Binary = Encoding.UTF8.GetBytes(text) },
        Properties = new Properties { MessageId = id ?? Guid.NewGuid().ToString("N") },
    };

    /// <summary>The body of a received message as text (a data section or an amqp-value string).</summary>
    public static string BodyText(this Message message) => message.BodySection switch
    {
        Data data => Encoding.UTF8.GetString(data.Binary),
        AmqpValue { Value: string text } => text,
        var other => throw new InvalidOperationException($"unexpected body {other}"),
    };

    /// <summary>The next message within the test timeout; fails the test when none comes.</summary>
    public static async Task<Message> NextAsync(this ReceiverLink receiver, TimeSpan? timeout = null) =>
        await receiver.ReceiveAsync(timeout ?? TimeSpan.FromSeconds(30)) ?? throw new Xunit.Sdk.XunitException("no message arrived within the timeout");

    /// <summary>The error condition a send, a receive or an attach failed with.</summary>
    public static async Task<string> RefusedAsync(Func<Task> action)
    {
        var refused = await Assert.ThrowsAsync<AmqpException>(action);
        return (string)refused.Error.Condition;
    }
}
