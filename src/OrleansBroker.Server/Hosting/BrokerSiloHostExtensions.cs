using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansBroker.Errors;
using OrleansBroker.Server.Storage;
using OrleansBroker.Server.Storage.Postgres;

namespace OrleansBroker.Server.Hosting;

/// <summary>Everything a stand-alone broker silo needs, from configuration: what <c>silo-host</c> calls.</summary>
public static partial class BrokerSiloHostExtensions
{
    /// <summary>How often a silo reads the membership table unless <c>Broker:Membership:TableRefreshTimeout</c> says otherwise.</summary>
    internal static readonly TimeSpan MembershipTableRefresh = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Configures a stand-alone broker silo from the <c>Broker</c> configuration section: the broker (<see cref="BrokerOptions"/>),
    /// its storage (<see cref="BrokerSiloOptions.Storage"/> with <see cref="SqliteBrokerStorageOptions"/>,
    /// <see cref="AzureBrokerStorageOptions"/> or <see cref="PostgresBrokerStorageOptions"/>, keys of the same names), ports and clustering (<see cref="BrokerSiloOptions"/>).
    /// Further <c>Configure&lt;BrokerOptions&gt;</c> calls apply after the section. Logs where the data lives and which ports
    /// it listens on once started. A bad setting throws <see cref="BrokerException"/> (<c>InvalidOptions</c>) here or at start.
    /// </summary>
    public static ISiloBuilder UseBrokerSilo(this ISiloBuilder silo, IConfiguration configuration)
    {
        var section = configuration.GetSection(BrokerOptions.SectionName);
        var hosting = new BrokerSiloOptions();
        SettingSections.Bind(section, hosting);
        hosting.Validate();
        silo.AddBroker(options => SettingSections.Bind(section, options));
        switch (hosting.Storage)
        {
            case BrokerStorage.Sqlite:
                silo.UseSqliteBrokerStorage(options => SettingSections.Bind(section, options));
                break;
            case BrokerStorage.Azure:
                silo.UseAzureBrokerStorage(options => SettingSections.Bind(section, options));
                break;
            case BrokerStorage.Postgres:
                silo.UsePostgresBrokerStorage(options => SettingSections.Bind(section, options));
                break;
            case BrokerStorage.Memory:
                silo.UseMemoryBrokerStorage();
                break;
        }

        switch (hosting.Clustering)
        {
            case BrokerClustering.Localhost:
                silo.UseLocalhostClustering(hosting.SiloPort, hosting.GatewayPort, null, hosting.ClusterId, hosting.ClusterId);
                silo.Configure<EndpointOptions>(endpoints =>
                    endpoints.AdvertisedIPAddress = hosting.AdvertisedAddress is { } address ? IPAddress.Parse(address) : IPAddress.Loopback);
                break;

            case BrokerClustering.Azure:
                ClusterEndpoints(silo, hosting);

                // The membership table is on the storage account, reached as the broker's storage is (key or credential).
                silo.UseAzureStorageClustering(membership => membership.Configure<IOptions<AzureBrokerStorageOptions>>((table, azure) =>
                {
                    table.TableServiceClient = azure.Value.CreateTableServiceClient();
                    table.TableName = hosting.ClusteringTableName;
                }));
                break;

            case BrokerClustering.Postgres:
                ClusterEndpoints(silo, hosting);

                // Orleans' membership table in the broker's database (created at start with the broker's tables).
                silo.UseAdoNetClustering((OptionsBuilder<AdoNetClusteringSiloOptions> membership) =>
                    membership.Configure<IOptions<PostgresBrokerStorageOptions>>((table, postgres) =>
                    {
                        table.Invariant = PostgresStartCheck.Invariant;
                        table.ConnectionString = postgres.Value.PostgresConnectionString;
                    }));
                break;
        }

        if (hosting.Tls.Enabled)
        {
            // Mutual TLS on both ports: peers and clients must present a certificate the configured authority issued.
            var trust = hosting.Tls.Trust();
            silo.UseTls(hosting.Tls.LoadCertificate(), tls =>
            {
                tls.RemoteCertificateMode = Orleans.Connections.Security.RemoteCertificateMode.RequireCertificate;
                tls.RemoteCertificateValidation = (certificate, _, _) => trust(certificate);
            });
        }

        // Failure detection, as Orleans names it (Broker:Membership:ProbeTimeout, :NumMissedProbesLimit, ...); Orleans' defaults
        // otherwise, but for the membership table's refresh: a silo reads the table every 5 s instead of every 60 s, so that a
        // silo the others declared dead while it was paused or cut off learns it at most 5 s after it runs again, and stops
        // (Orleans stops a silo that finds itself dead in the table) rather than placing and serving grains meanwhile.
        silo.Configure<ClusterMembershipOptions>(membership => membership.TableRefreshTimeout = MembershipTableRefresh);
        silo.Configure<ClusterMembershipOptions>(section.GetSection("Membership"));
        silo.Services.AddHostedService(sp => new StartupReport(hosting, sp));
        return silo;
    }

    /// <summary>Cluster id and endpoints of a silo that joins others through a shared membership table.</summary>
    private static void ClusterEndpoints(ISiloBuilder silo, BrokerSiloOptions hosting)
    {
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
    }

    private sealed partial class StartupReport(BrokerSiloOptions hosting, IServiceProvider services) : IHostedService
    {
        private readonly ILogger _logger = services.GetRequiredService<ILoggerFactory>().CreateLogger("OrleansBroker.Silo");

        public async Task StartAsync(CancellationToken cancellationToken)
        {
            if (services.GetService<SqliteStore>() is { } store)
            {
                // Open now: a bad data folder stops the silo at start, not at the first publish.
                await store.ReadAsync(_ => 0).WaitAsync(cancellationToken);
            }

            var where = hosting.Storage switch
            {
                BrokerStorage.Sqlite => services.GetRequiredService<IOptions<SqliteBrokerStorageOptions>>().Value.SqlitePath,
                BrokerStorage.Azure => $"Azure Storage container '{services.GetRequiredService<IOptions<AzureBrokerStorageOptions>>().Value.AzureContainerName}'",
                BrokerStorage.Postgres => services.GetRequiredService<IOptions<PostgresBrokerStorageOptions>>().Value.Describe(),
                _ => "memory (not durable)",
            };
            var clustering = hosting.Clustering switch
            {
                BrokerClustering.Azure => $"azure table '{hosting.ClusteringTableName}'",
                BrokerClustering.Postgres => "postgres (OrleansMembershipTable)",
                _ => "localhost",
            };
            LogReady(hosting.Storage, where, clustering, hosting.SiloPort, hosting.GatewayPort, hosting.Tls.Enabled ? "mutual TLS" : "no TLS");
        }

        public Task StopAsync(CancellationToken cancellationToken)
        {
            LogStopping();
            return Task.CompletedTask;
        }

        [LoggerMessage(Level = LogLevel.Information, Message = "OrleansBroker silo: storage {Storage} at {Where}; clustering {Clustering}; silo port {SiloPort}, gateway port {GatewayPort} ({Tls})")]
        private partial void LogReady(BrokerStorage storage, string where, string clustering, int siloPort, int gatewayPort, string tls);

        [LoggerMessage(Level = LogLevel.Information, Message = "OrleansBroker silo stopping: queues flush their pending writes as they deactivate")]
        private partial void LogStopping();
    }
}
