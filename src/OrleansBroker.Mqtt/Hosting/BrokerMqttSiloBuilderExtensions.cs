using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using OrleansBroker.Client.Hosting;
using OrleansBroker.Mqtt.Protocol;
using OrleansBroker.Server.Hosting;

namespace OrleansBroker.Mqtt.Hosting;

/// <summary>Adds the MQTT listener to a broker silo.</summary>
public static class BrokerMqttSiloBuilderExtensions
{
    /// <summary>
    /// Serves MQTT 3.1.1 and 5 from this silo (<see cref="BrokerMqttOptions"/>; every call's delegate applies, in order) once
    /// the silo is active. Needs <c>AddBroker</c>. Idempotent. A bad setting stops the silo at start with one line.
    /// </summary>
    public static ISiloBuilder AddBrokerMqtt(this ISiloBuilder silo, Action<BrokerMqttOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(silo);
        var services = silo.Services;
        var options = services.AddOptions<BrokerMqttOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        if (services.Any(d => d.ServiceType == typeof(BrokerMqttServer)))
        {
            return silo;
        }

        options.PostConfigure(mqtt => mqtt.Validate());
        services.AddBrokerClient();
        services.AddMetrics();
        services.AddSingleton<MqttMetrics>();
        services.AddSingleton<MqttEdge>();
        SiloListeners.AddListener<BrokerMqttServer>(services, sp => sp.GetRequiredService<IOptions<BrokerMqttOptions>>().Value.Enabled);
        return silo;
    }

    /// <summary>Serves MQTT with the settings of the <c>Broker:Mqtt</c> section (<see cref="BrokerMqttOptions"/>).</summary>
    public static ISiloBuilder UseBrokerMqtt(this ISiloBuilder silo, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(BrokerMqttOptions.SectionName);
        return silo.AddBrokerMqtt(mqtt => SettingSections.Bind(section, mqtt));
    }
}
