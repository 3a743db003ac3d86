using System.CommandLine;

namespace OrleansBroker.Cli.Commands;

/// <summary>Options every command takes.</summary>
internal static class GlobalOptions
{
    public static readonly Option<string[]> Gateway = new("--gateway")
    {
        Description = "Broker gateway HOST:PORT; repeat for several. Default localhost:30000.",
        Recursive = true,
        AllowMultipleArgumentsPerToken = false,
        DefaultValueFactory = _ => ["localhost:30000"],
    };

    public static readonly Option<string> ClusterId = new("--cluster-id")
    {
        Description = "Cluster id of the broker silos. Default obroker.",
        Recursive = true,
        DefaultValueFactory = _ => "obroker",
    };

    public static Task<BrokerConnection> ConnectAsync(ParseResult parse, CancellationToken cancellationToken) =>
        BrokerConnection.ConnectAsync(parse.GetValue(Gateway)!, parse.GetValue(ClusterId)!, cancellationToken);
}
