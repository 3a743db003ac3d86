using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace OrleansBroker.Client.Hosting;

/// <summary>Registers <see cref="IBrokerClient"/> on an Orleans client. Clustering (gateways) is the host's choice.</summary>
public static class BrokerClientHostingExtensions
{
    /// <summary>Adds <see cref="IBrokerClient"/>; idempotent.</summary>
    public static IServiceCollection AddBrokerClient(this IServiceCollection services)
    {
        services.TryAddSingleton<IBrokerClient, BrokerClient>();
        return services;
    }

    /// <summary>Adds <see cref="IBrokerClient"/> to the Orleans client; idempotent.</summary>
    public static IClientBuilder AddBrokerClient(this IClientBuilder builder)
    {
        builder.Services.AddBrokerClient();
        return builder;
    }
}
