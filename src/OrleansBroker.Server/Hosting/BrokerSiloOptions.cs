using OrleansBroker.Errors;

namespace OrleansBroker.Server.Hosting;

/// <summary>
/// How a stand-alone broker silo joins its cluster and listens, bound from the <c>Broker</c>
/// section next to <see cref="BrokerOptions"/> (command line: <c>--silo-port</c>, <c>--gateway-port</c>).
/// </summary>
public sealed class BrokerSiloOptions
{
    /// <summary>
    /// Where messages are kept: <see cref="BrokerStorage.Sqlite"/> (default; <see cref="SqliteBrokerStorageOptions"/>),
    /// <see cref="BrokerStorage.Azure"/> (<see cref="AzureBrokerStorageOptions"/>), <see cref="BrokerStorage.Postgres"/>
    /// (<see cref="PostgresBrokerStorageOptions"/>) or <see cref="BrokerStorage.Memory"/>.
    /// </summary>
    public BrokerStorage Storage { get; set; } = BrokerStorage.Sqlite;

    /// <summary>Silo-to-silo port. Default 11111.</summary>
    public int SiloPort { get; set; } = BrokerDefaults.SiloPort;

    /// <summary>Port clients and the CLI connect to. Default 30000.</summary>
    public int GatewayPort { get; set; } = BrokerDefaults.GatewayPort;

    /// <summary>Cluster id; silos with the same id form one cluster. Default <c>obroker</c>.</summary>
    public string ClusterId { get; set; } = BrokerDefaults.ClusterId;

    /// <summary>
    /// How silos find each other and clients find gateways. Default <see cref="BrokerClustering.Localhost"/>
    /// (one silo on this machine); <see cref="BrokerClustering.Azure"/> uses an Azure Storage table
    /// from <c>Broker:AzureConnectionString</c> and needs <c>Broker:Storage=azure</c>, shared by every silo;
    /// <see cref="BrokerClustering.Postgres"/> uses Orleans' membership table in the database of
    /// <c>Broker:PostgresConnectionString</c> and needs <c>Broker:Storage=postgres</c>.
    /// </summary>
    public BrokerClustering Clustering { get; set; } = BrokerClustering.Localhost;

    /// <summary>Membership table with <see cref="BrokerClustering.Azure"/>. Default <c>BrokerMembership</c>.</summary>
    public string ClusteringTableName { get; set; } = BrokerDefaults.ClusteringTableName;

    /// <summary>
    /// Address this silo advertises to other silos and clients. Default: 127.0.0.1 with localhost
    /// clustering, this machine's first IPv4 address with azure or postgres clustering.
    /// </summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>
    /// Mutual TLS on the silo and gateway ports (<c>Broker:Tls</c>): this silo's certificate and the authority every peer's and
    /// client's certificate must be issued by. Default off.
    /// </summary>
    public BrokerTlsOptions Tls { get; set; } = new();

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) naming the bad setting.</summary>
    public void Validate()
    {
        if (SiloPort is < 1 or > 65535 || GatewayPort is < 1 or > 65535 || SiloPort == GatewayPort)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Ports must be distinct and in 1..65535 (silo {SiloPort}, gateway {GatewayPort}).");
        }

        if (string.IsNullOrWhiteSpace(ClusterId))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, "Broker:ClusterId is empty.");
        }

        if (!Enum.IsDefined(Storage))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Broker:Storage '{Storage}' is unknown; use sqlite, azure, postgres or memory.");
        }

        if (Clustering == BrokerClustering.Azure && Storage != BrokerStorage.Azure)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Broker:Clustering=azure needs storage every silo shares: set Broker:Storage=azure (it is {Storage}).");
        }

        if (Clustering == BrokerClustering.Postgres && Storage != BrokerStorage.Postgres)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Broker:Clustering=postgres needs storage every silo shares: set Broker:Storage=postgres (it is {Storage}).");
        }

        if (!Enum.IsDefined(Clustering))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Broker:Clustering '{Clustering}' is unknown; use localhost, azure or postgres.");
        }

        Tls.Validate();
        if (AdvertisedAddress is not null && !System.Net.IPAddress.TryParse(AdvertisedAddress, out _))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Broker:AdvertisedAddress '{AdvertisedAddress}' is not an IP address.");
        }
    }
}
