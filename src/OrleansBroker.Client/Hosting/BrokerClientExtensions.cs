using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace OrleansBroker.Client.Hosting;

/// <summary>
/// Registers <see cref="IBrokerClient"/> (data plane) and <see cref="IBrokerAdministrationClient"/> (management) on an Orleans client.
/// </summary>
public static class BrokerClientHostingExtensions
{
    /// <summary>Adds <see cref="IBrokerClient"/> and <see cref="IBrokerAdministrationClient"/> as singletons; idempotent.</summary>
    public static IServiceCollection AddBrokerClient(this IServiceCollection services)
    {
        services.TryAddSingleton<IBrokerClient, BrokerClient>();
        services.TryAddSingleton<IBrokerAdministrationClient, BrokerAdministrationClient>();
        return services;
    }

    /// <summary>Adds <see cref="IBrokerClient"/> and <see cref="IBrokerAdministrationClient"/> to the Orleans client; idempotent.</summary>
    public static IClientBuilder AddBrokerClient(this IClientBuilder builder)
    {
        builder.Services.AddBrokerClient();
        return builder;
    }
}
