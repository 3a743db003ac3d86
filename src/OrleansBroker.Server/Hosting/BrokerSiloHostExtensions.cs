using System.Net;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
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
    };

    /// <summary>
    /// Configures a single broker silo from the <c>Broker</c> configuration section: storage
    /// (<see cref="BrokerOptions"/>), ports and localhost clustering (<see cref="BrokerSiloOptions"/>).
    /// Logs where the data lives and which ports it listens on once started.
    /// </summary>
    public static ISiloBuilder UseBrokerSilo(this ISiloBuilder silo, IConfiguration configuration)
    {
        var section = configuration.GetSection(BrokerOptions.SectionName);
        var hosting = section.Get<BrokerSiloOptions>() ?? new BrokerSiloOptions();
        hosting.Validate();
        BrokerOptions? broker = null;
        silo.AddBroker(options =>
        {
            section.Bind(options);
            broker = options;
        });

        silo.UseLocalhostClustering(hosting.SiloPort, hosting.GatewayPort, null, hosting.ClusterId, hosting.ClusterId);
        silo.Configure<EndpointOptions>(endpoints => endpoints.AdvertisedIPAddress = IPAddress.Loopback);
        silo.Services.AddHostedService(sp => new StartupReport(broker!, hosting, sp));
        return silo;
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
            LogReady(broker.Storage, where, hosting.SiloPort, hosting.GatewayPort);
        }

        public Task StopAsync(CancellationToken cancellationToken)
        {
            LogStopping();
            return Task.CompletedTask;
        }

        [LoggerMessage(Level = LogLevel.Information, Message = "OrleansBroker silo: storage {Storage} at {Where}; silo port {SiloPort}, gateway port {GatewayPort}")]
        private partial void LogReady(BrokerStorage storage, string where, int siloPort, int gatewayPort);

        [LoggerMessage(Level = LogLevel.Information, Message = "OrleansBroker silo stopping: queues flush their pending writes as they deactivate")]
        private partial void LogStopping();
    }
}
