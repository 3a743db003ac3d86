namespace OrleansBroker.Server.Hosting;

/// <summary>How broker silos find each other and clients find gateways (<c>Broker:Clustering</c>, <c>--clustering</c>).</summary>
public enum BrokerClustering
{
    /// <summary>One silo on this machine; clients connect to its gateway port. The default.</summary>
    Localhost = 0,

    /// <summary>Silos register in an Azure Storage table (Azurite works); clients read gateways from it.</summary>
    Azure = 1,
}
