namespace OrleansBroker.Cli;

/// <summary>Where a command finds the broker: a list of gateways, or the silos' Azure membership table.</summary>
internal sealed record BrokerTarget(IReadOnlyList<string> GatewayList, string? AzureConnectionString, string? Table)
{
    public static BrokerTarget Gateways(IReadOnlyList<string> gateways)
    {
        // Parsed now, so a bad --gateway is exit code 2 before any connection attempt.
        foreach (var gateway in gateways)
        {
            BrokerConnection.ParseGateway(gateway);
        }

        return new BrokerTarget(gateways, null, null);
    }

    public static BrokerTarget AzureTable(string connectionString, string table) => new([], connectionString, table);

    public override string ToString() => AzureConnectionString is null ? string.Join(", ", GatewayList) : $"the gateways listed in Azure table '{Table}'";
}
