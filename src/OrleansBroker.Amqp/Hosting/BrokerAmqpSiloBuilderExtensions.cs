using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansBroker.Amqp.Protocol;
using OrleansBroker.Client.Hosting;
using OrleansBroker.Server.Hosting;

namespace OrleansBroker.Amqp.Hosting;

/// <summary>Adds the AMQP 1.0 listener to a broker silo.</summary>
public static class BrokerAmqpSiloBuilderExtensions
{
    /// <summary>
    /// Serves AMQP 1.0 from this silo (<see cref="BrokerAmqpOptions"/>; every call's delegate applies, in order) once
    /// the silo is active. Needs <c>AddBroker</c>. Idempotent. A bad setting stops the silo at start with one line.
    /// </summary>
    public static ISiloBuilder AddBrokerAmqp(this ISiloBuilder silo, Action<BrokerAmqpOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(silo);
        var services = silo.Services;
        var options = services.AddOptions<BrokerAmqpOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        if (services.Any(d => d.ServiceType == typeof(BrokerAmqpServer)))
        {
            return silo;
        }

        options.PostConfigure(amqp => amqp.Validate());
        services.AddBrokerClient();
        services.AddMetrics();
        services.AddSingleton<AmqpMetrics>();
        services.AddSingleton<AmqpEdge>();
        SiloListeners.AddListener<BrokerAmqpServer>(services, sp => sp.GetRequiredService<IOptions<BrokerAmqpOptions>>().Value.Enabled);
        return silo;
    }

    /// <summary>Serves AMQP 1.0 with the settings of the <c>Broker:Amqp</c> section (<see cref="BrokerAmqpOptions"/>).</summary>
    public static ISiloBuilder UseBrokerAmqp(this ISiloBuilder silo, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(BrokerAmqpOptions.SectionName);
        return silo.AddBrokerAmqp(amqp => SettingSections.Bind(section, amqp));
    }
}
