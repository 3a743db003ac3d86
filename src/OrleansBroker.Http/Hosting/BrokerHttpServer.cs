using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using OrleansBroker.Client;
using OrleansBroker.Http.Api;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Server.Identity;
using OrleansBroker.Server.Storage;

namespace OrleansBroker.Http.Hosting;

/// <summary>
/// The silo's HTTP listener: a Kestrel server with the broker's API, started once the silo is active (so it answers only
/// when the silo can serve) and stopped first when the silo stops. Its requests reach the broker through the silo's own
/// <see cref="IBrokerClient"/>, the same calls a .NET client makes.
/// </summary>
internal sealed partial class BrokerHttpServer(IServiceProvider silo, IOptions<BrokerHttpOptions> options, ILogger<BrokerHttpServer> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    private WebApplication? _app;

    /// <summary>Where it listens once started, as <c>http://127.0.0.1:30080</c>.</summary>
    public IReadOnlyList<string> Addresses { get; private set; } = [];

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(BrokerHttpServer), ServiceLifecycleStage.Active, StartAsync, StopAsync);

    private async Task StartAsync(CancellationToken cancellationToken)
    {
        var settings = options.Value;
        await silo.GetRequiredService<AdminBootstrap>().RunAsync(settings.AdminPassword, cancellationToken);
        _app = Build(settings);
        await _app.StartAsync(cancellationToken);
        Addresses = [.. _app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses];
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

    private WebApplication Build(BrokerHttpOptions settings)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "OrleansBroker.Http", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<IHostLifetime, SiloListeners.SiloOwnedLifetime>();
        builder.Services.AddSingleton(silo.GetRequiredService<ILoggerFactory>());
        builder.Services.AddSingleton(silo.GetRequiredService<IBrokerClient>());
        builder.Services.AddSingleton(silo.GetRequiredService<IBrokerAdministrationClient>());
        builder.Services.AddSingleton(silo.GetRequiredService<IdentityDirectory>());
        builder.Services.AddSingleton(silo.GetRequiredService<IGrainFactory>());
        builder.Services.AddSingleton(silo.GetRequiredService<IOptions<BrokerOptions>>());
        builder.Services.AddSingleton(silo.GetRequiredService<TimeProvider>());
        builder.Services.AddSingleton(silo.GetRequiredService<IClusterMembershipService>());
        if (silo.GetService<MeterProvider>() is { } meters)
        {
            builder.Services.AddSingleton(meters);
        }

        builder.Services.AddSingleton(silo.GetRequiredService<ILocalSiloDetails>());
        builder.Services.AddSingleton(silo.GetRequiredService<DiskSpaceAlarm>());
        builder.Services.AddSingleton(options);
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = HttpLimits.MaxRequestBodyBytes;
            kestrel.Listen(IPAddress.Parse(settings.Address), settings.Port, listen =>
            {
                if (SiloListeners.LoadCertificate(settings.CertificatePath, settings.CertificateKeyPath, settings.CertificatePassword) is { } certificate)
                {
                    listen.UseHttps(certificate);
                }
            });
        });
        BrokerApi.AddServices(builder.Services, settings);
        var app = builder.Build();
        BrokerApi.Map(app, settings);
        return app;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "OrleansBroker HTTP API listening on {Addresses}")]
    private static partial void LogListening(ILogger logger, string addresses);
}
