using OrleansBroker.Errors;

namespace OrleansBroker.Server.Hosting;

/// <summary>
/// How a stand-alone broker silo joins its cluster and listens, bound from the <c>Broker</c>
/// section next to <see cref="BrokerOptions"/> (command line: <c>--silo-port</c>, <c>--gateway-port</c>).
/// </summary>
public sealed class BrokerSiloOptions
{
    /// <summary>Silo-to-silo port. Default 11111.</summary>
    public int SiloPort { get; set; } = 11111;

    /// <summary>Port clients and the CLI connect to. Default 30000.</summary>
    public int GatewayPort { get; set; } = 30000;

    /// <summary>Cluster id; silos with the same id form one cluster. Default <c>obroker</c>.</summary>
    public string ClusterId { get; set; } = "obroker";

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
    }
}
