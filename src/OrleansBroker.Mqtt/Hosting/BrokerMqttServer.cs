using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansBroker.Hosting;
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
        var certificate = SiloListeners.LoadCertificate(settings.CertificatePath, settings.CertificateKeyPath, settings.CertificatePassword);
        var started = await ProtocolListener.StartAsync("OrleansBroker.Mqtt", loggers, IPAddress.Parse(settings.Address),
            ("mqtt", settings.Port), ("mqtts", settings.TlsPort, certificate), ServeAsync, cancellationToken);
        _app = started.App;
        Addresses = started.Addresses;
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
