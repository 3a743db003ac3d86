using System.Net;
using Amqp.Listener;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansBroker.Amqp.Protocol;
using OrleansBroker.Hosting;
using OrleansBroker.Server.Hosting;

namespace OrleansBroker.Amqp.Hosting;

/// <summary>
/// The silo's AMQP 1.0 listener: Kestrel accepts connections (and TLS), the broker does SASL (<see cref="AmqpSasl"/>), and
/// AMQP.Net Lite serves the signed-in connection's sessions and links through <see cref="AmqpContainer"/>. Started once
/// the silo is active, stopped first when it stops: open connections are closed with amqp:connection:forced, and what
/// their receivers held unsettled goes back to its queues.
/// </summary>
internal sealed class BrokerAmqpServer(AmqpEdge edge, IOptions<BrokerAmqpOptions> options, ILoggerFactory loggers)
    : ILifecycleParticipant<ISiloLifecycle>
{
    private WebApplication? _app;
    private ConnectionListener? _listener;
    private AmqpContainer? _container;

    /// <summary>Where it listens once started, as <c>amqp://127.0.0.1:5672</c> and <c>amqps://127.0.0.1:5671</c>.</summary>
    public IReadOnlyList<string> Addresses { get; private set; } = [];

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(BrokerAmqpServer), ServiceLifecycleStage.Active, StartAsync, StopAsync);

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        _container = new AmqpContainer(edge);
        _listener = new ConnectionListener(new global::Amqp.Address("localhost", 0, path: "/", scheme: AmqpContainer.Scheme), _container);
        _listener.AMQP.MaxFrameSize = settings.MaxFrameSize;
        _listener.AMQP.MaxSessionsPerConnection = (ushort)settings.MaxSessionsPerConnection;
        _listener.AMQP.MaxLinksPerSession = settings.MaxLinksPerSession;
        _listener.AMQP.IdleTimeout = settings.IdleTimeout == TimeSpan.Zero ? -1 : (int)settings.IdleTimeout.TotalMilliseconds;
        _listener.AMQP.ContainerId = $"obroker-{Environment.MachineName}-{Environment.ProcessId}";
        _listener.Open();

        var certificate = SiloListeners.LoadCertificate(settings.CertificatePath, settings.CertificateKeyPath, settings.CertificatePassword);
        var started = await ProtocolListener.StartAsync("OrleansBroker.Amqp", loggers, IPAddress.Parse(settings.Address),
            ("amqp", settings.Port), ("amqps", settings.TlsPort, certificate), ServeAsync, cancellationToken);
        _app = started.App;
        Addresses = started.Addresses;
        AmqpLog.Listening(edge.Logger, string.Join(", ", Addresses));
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        _listener?.Close();
        if (_app is { } app)
        {
            await app.StopAsync(cancellationToken);
            await app.DisposeAsync();
        }
    }

    private async Task ServeAsync(ConnectionContext connection)
    {
        var remote = connection.RemoteEndPoint?.ToString();
        AmqpSasl.Result signIn;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(connection.ConnectionClosed))
        {
            timeout.CancelAfter(options.Value.SaslTimeout);
            try
            {
                signIn = await AmqpSasl.NegotiateAsync(edge, connection.Transport, timeout.Token);
            }
            catch (OperationCanceledException)
            {
                signIn = new(null, $"it did not finish SASL within {options.Value.SaslTimeout.TotalSeconds:0} seconds", null);
            }
            catch (Exception exception) when (exception is IOException or ConnectionResetException or ConnectionAbortedException)
            {
                return;
            }
        }

        if (signIn.Principal is not { } principal)
        {
            AmqpLog.Refused(edge.Logger, remote, signIn.User, signIn.Refusal!);
            edge.Metrics.Refused("sasl");
            return;
        }

        AmqpLog.Connected(edge.Logger, remote, principal.Name);
        var transport = new AmqpPipeTransport(connection.Transport, new AmqpPrincipal(principal));
        edge.Metrics.Opened();
        try
        {
            _container!.Accept(transport);
            await transport.Closed;
        }
        finally
        {
            edge.Metrics.Closed();
        }
    }
}
