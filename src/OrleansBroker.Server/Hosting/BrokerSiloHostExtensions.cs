using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using OrleansBroker.Errors;
using OrleansBroker.Server.Storage;

namespace OrleansBroker.Server.Hosting;

/// <summary>Everything a stand-alone broker silo needs, from configuration: what <c>silo-host</c> calls.</summary>
public static partial class BrokerSiloHostExtensions
{
    /// <summary>Command-line switches of a broker silo and the configuration keys they set.</summary>
    public static IReadOnlyDictionary<string, string> CommandLineSwitches { get; } = new Dictionary<string, string>
    {
        ["--storage"] = "Broker:Storage",
        ["--data-dir"] = "Broker:DataDirectory",
        ["--azure-connection-string"] = "Broker:AzureConnectionString",
        ["--silo-port"] = "Broker:SiloPort",
        ["--gateway-port"] = "Broker:GatewayPort",
        ["--cluster-id"] = "Broker:ClusterId",
        ["--max-message-bytes"] = "Broker:MaxMessageBytes",
        ["--disk-free-limit"] = "Broker:DiskFreeLimit",
        ["--clustering"] = "Broker:Clustering",
        ["--advertised-address"] = "Broker:AdvertisedAddress",
    };

    /// <summary>
    /// Configures a single broker silo from the <c>Broker</c> configuration section: storage
    /// (<see cref="BrokerOptions"/>), ports and localhost clustering (<see cref="BrokerSiloOptions"/>).
    /// Logs where the data lives and which ports it listens on once started.
    /// </summary>
    public static ISiloBuilder UseBrokerSilo(this ISiloBuilder silo, IConfiguration configuration)
    {
        var section = configuration.GetSection(BrokerOptions.SectionName);
        var hosting = new BrokerSiloOptions();
        Bind(section, hosting);
        BrokerOptions? bound = null;
        silo.AddBroker(options =>
        {
            Bind(section, options);
            bound = options;
        });
        var broker = bound ?? throw new InvalidOperationException("AddBroker() was called before UseBrokerSilo(), which configures the broker itself; call only UseBrokerSilo().");
        hosting.Validate(broker);

        switch (hosting.Clustering)
        {
            case BrokerClustering.Localhost:
                silo.UseLocalhostClustering(hosting.SiloPort, hosting.GatewayPort, null, hosting.ClusterId, hosting.ClusterId);
                silo.Configure<EndpointOptions>(endpoints =>
                    endpoints.AdvertisedIPAddress = hosting.AdvertisedAddress is { } address ? IPAddress.Parse(address) : IPAddress.Loopback);
                break;

            case BrokerClustering.Azure:
                silo.Configure<ClusterOptions>(cluster =>
                {
                    cluster.ClusterId = hosting.ClusterId;
                    cluster.ServiceId = hosting.ClusterId;
                });
                if (hosting.AdvertisedAddress is { } advertised)
                {
                    silo.ConfigureEndpoints(IPAddress.Parse(advertised), hosting.SiloPort, hosting.GatewayPort, listenOnAnyHostAddress: true);
                }
                else
                {
                    silo.ConfigureEndpoints(hosting.SiloPort, hosting.GatewayPort, listenOnAnyHostAddress: true);
                }

                silo.UseAzureStorageClustering(membership =>
                {
                    membership.TableServiceClient = new Azure.Data.Tables.TableServiceClient(broker.AzureConnectionString);
                    membership.TableName = hosting.ClusteringTableName;
                });
                break;
        }

        // Failure detection, as Orleans names it (Broker:Membership:ProbeTimeout, :NumMissedProbesLimit, ...); Orleans' defaults otherwise.
        silo.Configure<ClusterMembershipOptions>(section.GetSection("Membership"));
        silo.Services.AddHostedService(sp => new StartupReport(broker, hosting, sp));
        return silo;
    }

    /// <summary>Binds a setting section; a value of the wrong type is a one-line <see cref="BrokerErrorCode.InvalidOptions"/>, not a stack trace.</summary>
    private static void Bind(IConfigurationSection section, object target)
    {
        try
        {
            section.Bind(target);
        }
        catch (InvalidOperationException exception) when (exception.InnerException is not null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"{exception.Message} {exception.InnerException.Message}", exception);
        }
    }

    private sealed partial class StartupReport(BrokerOptions broker, BrokerSiloOptions hosting, IServiceProvider services) : IHostedService
    {
        private readonly ILogger _logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("OrleansBroker.Silo");

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            if (services.GetService<SqliteStore>() is { } store)
            {
                // Open now: a bad data folder stops the silo at start, not at the first publish.
                await store.ReadAsync(_ => 0).WaitAsync(cancellationToken);
            }

            var where = broker.Storage switch
            {
                BrokerStorage.Sqlite => broker.SqlitePath,
                BrokerStorage.Azure => $"Azure Storage container '{broker.AzureContainerName}'",
                _ => "memory (not durable)",
            };
            var clustering = hosting.Clustering == BrokerClustering.Azure ? $"azure table '{hosting.ClusteringTableName}'" : "localhost";
            LogReady(broker.Storage, where, clustering, hosting.SiloPort, hosting.GatewayPort);
        }

        public Task StopAsync(CancellationToken cancellationToken)
        {
            LogStopping();
            return Task.CompletedTask;
        }

        [LoggerMessage(Level = LogLevel.Information, Message = "OrleansBroker silo: storage {Storage} at {Where}; clustering {Clustering}; silo port {SiloPort}, gateway port {GatewayPort}")]
        private partial void LogReady(BrokerStorage storage, string where, string clustering, int siloPort, int gatewayPort);

        [LoggerMessage(Level = LogLevel.Information, Message = "OrleansBroker silo stopping: queues flush their pending writes as they deactivate")]
        private partial void LogStopping();
    }
}
