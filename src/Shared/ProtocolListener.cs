using System.Net;
using System.Security.Cryptography.X509Certificates;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansBroker.Server.Hosting;

namespace OrleansBroker.Hosting;

/// <summary>
/// Kestrel serving one protocol that is not HTTP (MQTT, AMQP) in a silo: a plain port unless it is -1 and, with a
/// certificate, a TLS port, each handing its connections to one delegate. Kestrel's own lines go to the silo's logging,
/// but not its "Now listening on: http://..." (these ports are not HTTP). Compiled into each listener's assembly.
/// </summary>
internal static class ProtocolListener
{
    /// <summary>A started listener and where it listens, as <c>scheme://address:port</c>.</summary>
    public sealed record Started(WebApplication App, IReadOnlyList<string> Addresses);

    public static async Task<Started> StartAsync(
        string name, ILoggerFactory loggers, IPAddress address, (string Scheme, int Port) plain, (string Scheme, int Port, X509Certificate2? Certificate) tls,
        Func<ConnectionContext, Task> serve, CancellationToken cancellationToken)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = name, ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new SiloListeners.SiloLoggers(loggers));
        builder.Logging.AddFilter("Microsoft.Hosting.Lifetime", LogLevel.None);
        builder.Services.AddSingleton<IHostLifetime, SiloListeners.SiloOwnedLifetime>();
        ListenOptions? plainListen = null;
        ListenOptions? tlsListen = null;
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            if (plain.Port >= 0)
            {
                kestrel.Listen(address, plain.Port, listen =>
                {
                    plainListen = listen;
                    listen.Run(context => serve(context));
                });
            }

            if (tls.Certificate is { } certificate)
            {
                kestrel.Listen(address, tls.Port, listen =>
                {
                    tlsListen = listen;
                    listen.UseHttps(certificate);
                    listen.Run(context => serve(context));
                });
            }
        });
        var app = builder.Build();
        await app.StartAsync(cancellationToken);
        return new Started(app, [.. new[] { (plain.Scheme, plainListen), (tls.Scheme, tlsListen) }.Where(l => l.Item2 is not null).Select(l => $"{l.Item1}://{l.Item2!.IPEndPoint}")]);
    }
}
