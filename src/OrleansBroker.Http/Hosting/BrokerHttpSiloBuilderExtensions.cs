using Microsoft.Extensions.Configuration;
using OrleansBroker.Server.Hosting;

namespace OrleansBroker.Http.Hosting;

/// <summary>Silo-builder entry points of the HTTP API.</summary>
public static class BrokerHttpSiloBuilderExtensions
{
    /// <summary>As <see cref="BrokerHttpServiceCollectionExtensions.AddBrokerHttp"/>, on a silo builder.</summary>
    public static ISiloBuilder AddBrokerHttp(this ISiloBuilder silo, Action<BrokerHttpOptions>? configure = null)
    {
        silo.Services.AddBrokerHttp(configure);
        return silo;
    }

    /// <summary>Serves the HTTP API with the settings of the <c>Broker:Http</c> section (<see cref="BrokerHttpOptions"/>).</summary>
    public static ISiloBuilder UseBrokerHttp(this ISiloBuilder silo, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(BrokerHttpOptions.SectionName);
        BrokerTelemetrySetup.Add(silo.Services, configuration["Broker:Otlp:Endpoint"], !string.Equals(section["Metrics"], "false", StringComparison.OrdinalIgnoreCase));
        return silo.AddBrokerHttp(http => SettingSections.Bind(section, http));
    }
}
