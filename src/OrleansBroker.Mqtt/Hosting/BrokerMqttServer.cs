using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansBroker.Mqtt.Protocol;
using OrleansBroker.Server.Hosting;

namespace OrleansBroker.Mqtt.Hosting;

/// <summary>
/// The silo's MQTT listener: Kestrel connections handed to <see cref="MqttConnection"/>, started once the silo is active and
/// stopped first when it stops (open connections are closed; persistent sessions go on in their grains).
/// </summary>
internal sealed partial class BrokerMqttServer(MqttEdge edge, IOptions<BrokerMqttOptions> options, ILoggerFactory loggers, ILogger<BrokerMqttServer> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    private WebApplication? _app;

    /// <summary>Where it listens once started, as <c>mqtt://127.0.0.1:1883</c> and <c>mqtts://127.0.0.1:8883</c>.</summary>
    public IReadOnlyList<string> Addresses { get; private set; } = [];

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(BrokerMqttServer), ServiceLifecycleStage.Active, StartAsync, StopAsync);

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "OrleansBroker.Mqtt", ContentRootPath = AppContext.BaseDirectory });
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
        Addresses = [.. new[] { ("mqtt", plain), ("mqtts", tls) }.Where(l => l.Item2 is not null).Select(l => $"{l.Item1}://{l.Item2!.IPEndPoint}")];
        LogListening(logger, string.Join(", ", Addresses));
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        if (_app is { } app)
        {
            await app.StopAsync(cancellationToken);
            await app.DisposeAsync();
        }
    }

    private Task ServeAsync(ConnectionContext connection) => new MqttConnection(edge, connection).RunAsync();

    [LoggerMessage(Level = LogLevel.Information, Message = "OrleansBroker MQTT listening on {Addresses}")]
    private static partial void LogListening(ILogger logger, string addresses);
}
