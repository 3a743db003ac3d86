using System.Net;
using Amqp.Listener;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansBroker.Amqp.Protocol;
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

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "OrleansBroker.Amqp", ContentRootPath = AppContext.BaseDirectory });
        // Kestrel's own lines go to the silo's logging, but not its "Now listening on: http://..." (this port is not HTTP).
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new SiloListeners.SiloLoggers(loggers));
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.None);
        builder.Services.AddSingleton<IHostLifetime, SiloListeners.SiloOwnedLifetime>();
        var address = IPAddress.Parse(settings.Address);
        var certificate = SiloListeners.LoadCertificate(settings.CertificatePath, settings.CertificateKeyPath, settings.CertificatePassword);
        ListenOptions? plain = null;
        ListenOptions? tls = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            if (settings.Port >= 0)
            {
                kestrel.Listen(address, settings.Port, listen =>
                {
                    plain = listen;
                    listen.Run(ServeAsync);
                });
            }

            if (certificate is not null)
            {
                kestrel.Listen(address, settings.TlsPort, listen =>
                {
                    tls = listen;
                    listen.UseHttps(certificate);
                    listen.Run(ServeAsync);
                });
            }
        });
        _app = builder.Build();
        await _app.StartAsync(cancellationToken);
        Addresses = [.. new[] { ("amqp", plain), ("amqps", tls) }.Where(l => l.Item2 is not null).Select(l => $"{l.Item1}://{l.Item2!.IPEndPoint}")];
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
