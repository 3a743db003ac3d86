using System.CommandLine;
using OrleansBroker.Client.Hosting;

namespace OrleansBroker.Cli.Commands;

/// <summary>Options every command takes.</summary>
internal static class GlobalOptions
{
    public static readonly Option<string[]> Gateway = new("--gateway")
    {
        Description = "Broker gateway HOST:PORT; repeat for several. Default localhost:30000.",
        Recursive = true,
        AllowMultipleArgumentsPerToken = false,
        DefaultValueFactory = _ => [$"localhost:{BrokerDefaults.GatewayPort}"],
    };

    public static readonly Option<string> ClusterId = new("--cluster-id")
    {
        Description = "Cluster id of the broker silos. Default obroker.",
        Recursive = true,
        DefaultValueFactory = _ => BrokerDefaults.ClusterId,
    };

    public static readonly Option<string> Clustering = new("--clustering")
    {
        Description = "How to find gateways: localhost (the --gateway list), azure or postgres (the silos' membership table). Default localhost.",
        Recursive = true,
        DefaultValueFactory = _ => "localhost",
    };

    public static readonly Option<string?> AzureConnectionString = new("--azure-connection-string")
    {
        Description = "Azure Storage connection string of the membership table, with --clustering azure. Default: $OBROKER_AZURE_CONNECTION_STRING.",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("OBROKER_AZURE_CONNECTION_STRING"),
    };

    public static readonly Option<string?> PostgresConnectionString = new("--postgres-connection-string")
    {
        Description = "PostgreSQL connection string of the silos' database, with --clustering postgres. Default: $OBROKER_POSTGRES_CONNECTION_STRING.",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable("OBROKER_POSTGRES_CONNECTION_STRING"),
    };

    public static readonly Option<string> ClusteringTable = new("--clustering-table")
    {
        Description = "Membership table name, with --clustering azure. Default BrokerMembership.",
        Recursive = true,
        DefaultValueFactory = _ => BrokerDefaults.ClusteringTableName,
    };

    public static readonly Option<int> MaxPublishCalls = new("--max-publish-calls")
    {
        Description = "Most single-message publish calls this client has unanswered to one queue or topic; more wait and go out together. Default 4; 1 to 64.",
        Recursive = true,
        DefaultValueFactory = _ => BrokerClientOptions.DefaultMaxPublishCallsInFlight,
    };

    public static readonly Option<string?> TlsCertificate = TlsOption("--tls-certificate", "OBROKER_TLS_CERTIFICATE",
        "Mutual TLS: this client's certificate (PFX, or PEM with --tls-key), for silos started with Broker:Tls.");

    public static readonly Option<string?> TlsKey = TlsOption("--tls-key", "OBROKER_TLS_KEY", "Mutual TLS: the PEM private key of --tls-certificate.");

    public static readonly Option<string?> TlsPassword = TlsOption("--tls-password", "OBROKER_TLS_PASSWORD", "Mutual TLS: password of the PFX or encrypted PEM key.");

    public static readonly Option<string?> TlsTrust = TlsOption("--tls-trust", "OBROKER_TLS_TRUST", "Mutual TLS: PEM certificate of the authority the silos' certificates are issued by.");

    private static Option<string?> TlsOption(string name, string variable, string description) => new(name)
    {
        Description = $"{description} Default: ${variable}.",
        Recursive = true,
        DefaultValueFactory = _ => Environment.GetEnvironmentVariable(variable),
    };

    public static Task<BrokerConnection> ConnectAsync(ParseResult parse, CancellationToken cancellationToken)
    {
        var clustering = parse.GetValue(Clustering)!;
        var options = new BrokerClientOptions
        {
            ClusterId = parse.GetValue(ClusterId)!,
            Gateways = [.. parse.GetValue(Gateway)!],
            ClusteringTableName = parse.GetValue(ClusteringTable)!,
            MaxPublishCallsInFlight = parse.GetValue(MaxPublishCalls),
            AzureConnectionString = parse.GetValue(AzureConnectionString),
            PostgresConnectionString = parse.GetValue(PostgresConnectionString),
            Tls = new BrokerTlsOptions
            {
                CertificatePath = parse.GetValue(TlsCertificate),
                CertificateKeyPath = parse.GetValue(TlsKey),
                CertificatePassword = parse.GetValue(TlsPassword),
                TrustedCertificatePath = parse.GetValue(TlsTrust),
            },
            Clustering = clustering.ToUpperInvariant() switch
            {
                "LOCALHOST" => BrokerClustering.Localhost,
                "AZURE" => BrokerClustering.Azure,
                "POSTGRES" => BrokerClustering.Postgres,
                _ => throw new CliException(2, $"--clustering '{clustering}' is unknown; use localhost, azure or postgres"),
            },
        };
        if (options.Clustering == BrokerClustering.Azure && string.IsNullOrEmpty(options.AzureConnectionString))
        {
            throw new CliException(2, "--clustering azure needs --azure-connection-string (or OBROKER_AZURE_CONNECTION_STRING)");
        }

        if (options.Clustering == BrokerClustering.Postgres && string.IsNullOrEmpty(options.PostgresConnectionString))
        {
            throw new CliException(2, "--clustering postgres needs --postgres-connection-string (or OBROKER_POSTGRES_CONNECTION_STRING)");
        }

        return BrokerConnection.ConnectAsync(options, cancellationToken);
    }
}
