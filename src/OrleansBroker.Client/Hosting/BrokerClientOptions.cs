using System.Net;
using System.Net.Sockets;
using OrleansBroker.Errors;

namespace OrleansBroker.Client.Hosting;

/// <summary>
/// Where a client finds the broker, bound from the <c>Broker</c> configuration section that silos read too (the same
/// keys, the same defaults), so one settings file or one set of <c>Broker__*</c> environment variables serves both.
/// </summary>
public sealed class BrokerClientOptions
{
    /// <summary>Cluster id of the silos. Default <c>obroker</c>.</summary>
    public string ClusterId { get; set; } = BrokerDefaults.ClusterId;

    /// <summary>How to find gateways. Default <see cref="BrokerClustering.Localhost"/>: <see cref="Gateways"/>.</summary>
    public BrokerClustering Clustering { get; set; } = BrokerClustering.Localhost;

    /// <summary>
    /// Gateways as <c>HOST:PORT</c>, with <see cref="BrokerClustering.Localhost"/>. Default: none, which means
    /// <c>localhost:</c><see cref="GatewayPort"/>.
    /// </summary>
    public IList<string> Gateways { get; set; } = [];

    /// <summary>The local silo's gateway port when <see cref="Gateways"/> is empty. Default 30000, as the silo's.</summary>
    public int GatewayPort { get; set; } = BrokerDefaults.GatewayPort;

    /// <summary>Azure Storage connection string of the silos' membership table; required with <see cref="BrokerClustering.Azure"/>.</summary>
    public string? AzureConnectionString { get; set; }

    /// <summary>
    /// PostgreSQL connection string of the silos' database, whose membership table lists the gateways; required with
    /// <see cref="BrokerClustering.Postgres"/>. The role needs only to read Orleans' tables.
    /// </summary>
    public string? PostgresConnectionString { get; set; }

    /// <summary>Membership table with <see cref="BrokerClustering.Azure"/>. Default <c>BrokerMembership</c>, as the silos'.</summary>
    public string ClusteringTableName { get; set; } = BrokerDefaults.ClusteringTableName;

    /// <summary>The default of <see cref="SiloLossGrace"/>: 3 s.</summary>
    public static readonly TimeSpan DefaultSiloLossGrace = TimeSpan.FromSeconds(3);

    /// <summary>
    /// When this client loses its connection to a silo (the silo died, stopped, or was declared dead), how long a publish that
    /// was in flight then may still take before it fails with <see cref="BrokerErrorCode.SiloLost"/> instead of waiting for
    /// Orleans' 30 s response timeout. Default 3 s; 100 ms to 5 min.
    /// </summary>
    public TimeSpan SiloLossGrace { get; set; } = DefaultSiloLossGrace;

    /// <summary>
    /// How often the client reads the gateway list from the membership table (<see cref="BrokerClustering.Azure"/>,
    /// <see cref="BrokerClustering.Postgres"/>), and so how soon it drops a silo declared dead that still holds its connection
    /// open (a paused process). Default 5 s (Orleans' own default is 60 s); 1 s to 10 min.
    /// </summary>
    public TimeSpan GatewayListRefreshPeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The default of <see cref="MaxPublishCallsInFlight"/>: 4.</summary>
    public const int DefaultMaxPublishCallsInFlight = 4;

    /// <summary>
    /// The most single-message publish calls (<c>PublishAsync</c>, <c>PublishToTopicAsync</c>) this client has unanswered to
    /// one queue or topic at once. Up to this many go out one by one as they are made; beyond it, publishes made meanwhile
    /// wait and go out together in one call when an answer comes, each still confirmed on its own once durable. So many
    /// concurrent single publishes cost about what batches do, and a quiet producer waits for nothing. Default 4; 1 to 64.
    /// Batch publishes are sent as they are.
    /// </summary>
    public int MaxPublishCallsInFlight { get; set; } = DefaultMaxPublishCallsInFlight;

    /// <summary>Mutual TLS to the gateways (<c>Broker:Tls</c>, as the silos'): this client's certificate and the authority the silos' must be issued by. Default off.</summary>
    public BrokerTlsOptions Tls { get; set; } = new();

    /// <summary>The gateways to connect to with <see cref="BrokerClustering.Localhost"/>, resolved; throws <c>InvalidOptions</c> naming a bad one.</summary>
    public IReadOnlyList<IPEndPoint> GatewayEndPoints() =>
        Gateways.Count == 0 ? [new IPEndPoint(IPAddress.Loopback, ValidPort(GatewayPort))] : [.. Gateways.Select(ParseGateway)];

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) naming the bad setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ClusterId))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, "Broker:ClusterId is empty.");
        }

        Tls.Validate();
        if (SiloLossGrace < TimeSpan.FromMilliseconds(100) || SiloLossGrace > TimeSpan.FromMinutes(5))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Broker:SiloLossGrace {SiloLossGrace} is out of range 00:00:00.1..00:05:00.");
        }

        if (GatewayListRefreshPeriod < TimeSpan.FromSeconds(1) || GatewayListRefreshPeriod > TimeSpan.FromMinutes(10))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Broker:GatewayListRefreshPeriod {GatewayListRefreshPeriod} is out of range 00:00:01..00:10:00.");
        }

        if (MaxPublishCallsInFlight is < 1 or > 64)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Broker:MaxPublishCallsInFlight {MaxPublishCallsInFlight} is out of range 1..64.");
        }

        switch (Clustering)
        {
            case BrokerClustering.Localhost:
                _ = GatewayEndPoints();
                break;
            case BrokerClustering.Azure when string.IsNullOrWhiteSpace(AzureConnectionString):
                throw new BrokerException(BrokerErrorCode.InvalidOptions, "Broker:Clustering=azure needs Broker:AzureConnectionString, the storage account of the silos' membership table.");
            case BrokerClustering.Azure:
                break;
            case BrokerClustering.Postgres when string.IsNullOrWhiteSpace(PostgresConnectionString):
                throw new BrokerException(BrokerErrorCode.InvalidOptions, "Broker:Clustering=postgres needs Broker:PostgresConnectionString, the database of the silos' membership table.");
            case BrokerClustering.Postgres:
                break;
            default:
                throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Broker:Clustering '{Clustering}' is unknown; use localhost, azure or postgres.");
        }
    }

    /// <summary><c>HOST:PORT</c> with an IP address, <c>localhost</c> or a name with an IPv4 address.</summary>
    public static IPEndPoint ParseGateway(string gateway)
    {
        ArgumentNullException.ThrowIfNull(gateway);
        var colon = gateway.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(gateway.AsSpan(colon + 1), out var port) || port is < 1 or > 65535)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Gateway '{gateway}' is not HOST:PORT.");
        }

        var host = gateway[..colon];
        if (IPAddress.TryParse(host.Trim('[', ']'), out var address))
        {
            return new IPEndPoint(address, port);
        }

        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return new IPEndPoint(IPAddress.Loopback, port);
        }

        try
        {
            var resolved = Dns.GetHostAddresses(host).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
                ?? throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Gateway host '{host}' has no IPv4 address.");
            return new IPEndPoint(resolved, port);
        }
        catch (SocketException exception)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Gateway host '{host}' cannot be resolved: {exception.Message}");
        }
    }

    private static int ValidPort(int port) => port is >= 1 and <= 65535
        ? port
        : throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Broker:GatewayPort {port} is out of range 1..65535.");
}
