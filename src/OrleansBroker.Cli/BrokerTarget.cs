using System.Net;

namespace OrleansBroker.Cli;

/// <summary>Where a command finds the broker: a list of gateways, or the silos' Azure membership table.</summary>
internal sealed record BrokerTarget(IReadOnlyList<IPEndPoint> Gateways, string? AzureConnectionString, string? Table)
{
    /// <summary>Parsed now, so a bad <c>--gateway</c> is exit code 2 before any connection attempt.</summary>
    public static BrokerTarget FromGateways(IReadOnlyList<string> gateways) => new(gateways.Select(BrokerConnection.ParseGateway).ToList(), null, null);

    public static BrokerTarget AzureTable(string connectionString, string table) => new([], connectionString, table);

    public override string ToString() => AzureConnectionString is null ? string.Join(", ", Gateways) : $"the gateways listed in Azure table '{Table}'";
}
