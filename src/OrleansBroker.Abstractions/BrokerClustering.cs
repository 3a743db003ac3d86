namespace OrleansBroker;

/// <summary>
/// How broker silos find each other and clients find gateways (<c>Broker:Clustering</c>; silo-host and obroker
/// <c>--clustering</c>). Silos and clients read the same setting.
/// </summary>
public enum BrokerClustering
{
    /// <summary>One silo on this machine; clients connect to its gateway port (or a list of gateways). The default.</summary>
    Localhost = 0,

    /// <summary>Silos register in an Azure Storage table (Azurite works); clients read the gateways from it.</summary>
    Azure = 1,

    /// <summary>Silos register in Orleans' membership table in PostgreSQL; clients read the gateways from it.</summary>
    Postgres = 2,
}

/// <summary>Defaults that silos and clients share, so that a client finds a silo started with no settings.</summary>
public static class BrokerDefaults
{
    /// <summary>Configuration section silos and clients read (<c>Broker:ClusterId</c>, <c>Broker:GatewayPort</c>, ...).</summary>
    public const string SectionName = "Broker";

    /// <summary>Cluster id (also the Orleans service id): <c>obroker</c>.</summary>
    public const string ClusterId = "obroker";

    /// <summary>Port clients connect to: 30000.</summary>
    public const int GatewayPort = 30000;

    /// <summary>Silo-to-silo port: 11111.</summary>
    public const int SiloPort = 11111;

    /// <summary>Membership table with <see cref="BrokerClustering.Azure"/>: <c>BrokerMembership</c>. (PostgreSQL uses Orleans' <c>OrleansMembershipTable</c>.)</summary>
    public const string ClusteringTableName = "BrokerMembership";
}
