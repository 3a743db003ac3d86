using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansBroker.Client.Hosting;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Server.Identity;

namespace OrleansBroker.Http.Hosting;

/// <summary>Adds the HTTP API to a broker silo's services.</summary>
public static class BrokerHttpServiceCollectionExtensions
{
    /// <summary>
    /// Serves the broker's HTTP API from this silo (<see cref="BrokerHttpOptions"/>; every call's delegate applies, in order),
    /// once the silo is active. Needs <c>AddBroker</c>. Idempotent. A bad setting stops the silo at start with one line.
    /// </summary>
    public static IServiceCollection AddBrokerHttp(this IServiceCollection services, Action<BrokerHttpOptions>? configure = null)
    {
        var options = services.AddOptions<BrokerHttpOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        if (services.Any(d => d.ServiceType == typeof(BrokerHttpServer)))
        {
            return services;
        }

        options.PostConfigure(http => http.Validate());
        BrokerTelemetrySetup.Add(services, otlpEndpoint: null);
        services.AddBrokerClient();
        services.AddSingleton(sp => new AdminBootstrap(sp.GetRequiredService<IdentityDirectory>(), sp.GetRequiredService<ILogger<AdminBootstrap>>()));
        SiloListeners.AddListener<BrokerHttpServer>(services, sp => sp.GetRequiredService<IOptions<BrokerHttpOptions>>().Value.Enabled);
        return services;
    }
}
