using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Orleans.Configuration;
using OrleansBroker.Errors;

namespace OrleansBroker.Client.Hosting;

/// <summary>
/// Registers <see cref="IBrokerClient"/> (data plane) and <see cref="IBrokerAdministrationClient"/> (management) on an Orleans client.
/// </summary>
public static class BrokerClientHostingExtensions
{
    /// <summary>
    /// The client-side counterpart of the silo's <c>UseBrokerSilo</c>: connects to the broker described by the <c>Broker</c>
    /// section of <paramref name="configuration"/> (cluster id, gateways or Azure clustering: <see cref="BrokerClientOptions"/>),
    /// then <paramref name="configure"/> may change it, and adds the broker clients. With no settings at all it connects to a
    /// silo-host started with none on this machine. A bad setting throws <see cref="BrokerException"/> (<c>InvalidOptions</c>) here.
    /// </summary>
    public static IClientBuilder UseBrokerClient(this IClientBuilder client, IConfiguration configuration, Action<BrokerClientOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new BrokerClientOptions();
        try
        {
            configuration.GetSection(BrokerDefaults.SectionName).Bind(options);
        }
        catch (InvalidOperationException exception) when (exception.InnerException is not null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"{exception.Message} {exception.InnerException.Message}", exception);
        }

        configure?.Invoke(options);
        return client.UseBrokerClient(options);
    }

    /// <summary>As <see cref="UseBrokerClient(IClientBuilder, IConfiguration, Action{BrokerClientOptions}?)"/>, from options set in code.</summary>
    public static IClientBuilder UseBrokerClient(this IClientBuilder client, BrokerClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.Clustering == BrokerClustering.Azure)
        {
            client.UseAzureStorageClustering(membership =>
            {
                membership.TableServiceClient = new Azure.Data.Tables.TableServiceClient(options.AzureConnectionString);
                membership.TableName = options.ClusteringTableName;
            });
        }
        else if (options.Clustering == BrokerClustering.Postgres)
        {
            client.UseAdoNetClustering((AdoNetClusteringClientOptions membership) =>
            {
                membership.Invariant = "Npgsql";
                membership.ConnectionString = options.PostgresConnectionString;
            });
        }
        else
        {
            client.UseStaticClustering([.. options.GatewayEndPoints()]);
        }

        client.Configure<ClusterOptions>(cluster => cluster.ClusterId = cluster.ServiceId = options.ClusterId);
        client.Configure<GatewayOptions>(gateways => gateways.GatewayListRefreshPeriod = options.GatewayListRefreshPeriod);
        client.Services.TryAddSingleton(options);
        if (options.Tls.Enabled)
        {
            var trust = options.Tls.Trust();
            client.UseTls(options.Tls.LoadCertificate(), tls => tls.RemoteCertificateValidation = (certificate, _, _) => trust(certificate));
        }

        return client.AddBrokerClient();
    }

    /// <summary>Adds <see cref="IBrokerClient"/> and <see cref="IBrokerAdministrationClient"/> as singletons; idempotent.</summary>
    public static IServiceCollection AddBrokerClient(this IServiceCollection services)
    {
        services.TryAddSingleton<SiloLossWatch>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IClusterConnectionStatusObserver, SiloLossObserver>());
        services.TryAddSingleton<IBrokerClient, BrokerClient>();
        services.TryAddSingleton<IBrokerAdministrationClient, BrokerAdministrationClient>();
        return services;
    }

    /// <summary>
    /// Adds <see cref="IBrokerClient"/> and <see cref="IBrokerAdministrationClient"/> to an Orleans client whose clustering the
    /// host configures itself; idempotent.
    /// </summary>
    public static IClientBuilder AddBrokerClient(this IClientBuilder builder)
    {
        builder.Services.AddBrokerClient();
        return builder;
    }
}
