using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using OrleansBroker.Client.Hosting;
using OrleansBroker.Push.Pushing;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Server.Push;

namespace OrleansBroker.Push.Hosting;

/// <summary>Adds push delivery (queues and subscriptions that POST their messages to an HTTP endpoint) to a broker silo.</summary>
public static class BrokerPushSiloBuilderExtensions
{
    /// <summary>
    /// Pushes queues with a push endpoint from this silo (<see cref="BrokerPushOptions"/>; every call's delegate applies, in
    /// order). Needs <c>AddBroker</c>. Idempotent. A bad setting stops the silo at start with one line. Without it, a queue
    /// with a push endpoint cannot be created on this silo.
    /// </summary>
    public static ISiloBuilder AddBrokerPush(this ISiloBuilder silo, Action<BrokerPushOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(silo);
        var services = silo.Services;
        var options = services.AddOptions<BrokerPushOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        if (services.Any(d => d.ServiceType == typeof(PushEdge)))
        {
            return silo;
        }

        options.PostConfigure(push => push.Validate());
        services.AddBrokerClient();
        services.AddMetrics();
        services.AddSingleton<PushMetrics>();
        services.AddSingleton<PushEdge>();
        services.AddSingleton<IPushDelivery, PushDeliveries>();
        return silo;
    }

    /// <summary>Pushes with the settings of the <c>Broker:Push</c> section (<see cref="BrokerPushOptions"/>).</summary>
    public static ISiloBuilder UseBrokerPush(this ISiloBuilder silo, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var section = configuration.GetSection(BrokerPushOptions.SectionName);
        return silo.AddBrokerPush(push => SettingSections.Bind(section, push));
    }
}
