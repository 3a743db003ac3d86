using OrleansBroker.Errors;
using OrleansBroker.Server.Hosting;

namespace OrleansBroker.Http.Hosting;

/// <summary>
/// The HTTP listener every silo runs (section <c>Broker:Http</c>; silo-host switches <c>--http-port</c>, <c>--http-address</c>).
/// </summary>
public sealed class BrokerHttpOptions
{
    /// <summary>Configuration section: <c>Broker:Http</c>.</summary>
    public const string SectionName = "Broker:Http";

    /// <summary>Default port: 30080 (beside the gateway's 30000).</summary>
    public const int DefaultPort = 30080;

    /// <summary>Whether the silo serves HTTP. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Port; 0 picks a free one (see the startup log line). Default <see cref="DefaultPort"/>.</summary>
    public int Port { get; set; } = DefaultPort;

    /// <summary>
    /// Address to listen on. Default <c>127.0.0.1</c>: only this machine reaches the API, as with the gateway of a single
    /// silo. Set <c>0.0.0.0</c> (or <c>::</c>) to serve other machines, with HTTPS.
    /// </summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>
    /// HTTPS certificate: a PFX file, or a PEM certificate file with <see cref="CertificateKeyPath"/>. When set, the port
    /// serves HTTPS only. Default none (plain HTTP).
    /// </summary>
    public string? CertificatePath { get; set; }

    /// <summary>The PEM private key of <see cref="CertificatePath"/>; not used with a PFX.</summary>
    public string? CertificateKeyPath { get; set; }

    /// <summary>Password of the PFX or of an encrypted PEM key.</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>
    /// Password of the user <c>admin</c> made at the broker's first start (when it has never had a principal). Default none:
    /// a random one is generated and written once to the log. Never a fixed default. Environment: <c>Broker__Http__AdminPassword</c>.
    /// </summary>
    public string? AdminPassword { get; set; }

    /// <summary>
    /// Whether the silo serves the management console at <c>/</c> (static files; everything it shows comes through this API
    /// with the signed-in identity). Default true.
    /// </summary>
    public bool Console { get; set; } = true;

    /// <summary>
    /// Whether the silo serves Prometheus metrics at <c>/metrics</c>: to anyone on this machine, to administrators from
    /// elsewhere. Default true.
    /// </summary>
    public bool Metrics { get; set; } = true;

    /// <summary>Bearer tokens from an identity provider (<c>Broker:Http:Jwt</c>). Default off.</summary>
    public BrokerJwtOptions Jwt { get; set; } = new();

    /// <summary>
    /// Requests per second one principal may make on one silo; past it, 429 with <c>Retry-After</c>. Default 0: no limit.
    /// </summary>
    public int RequestsPerSecond { get; set; }

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) naming the bad setting.</summary>
    public void Validate()
    {
        if (!Enabled)
        {
            return;
        }

        SiloListeners.Validate("Broker:Http", Port, portMayBeOff: false, tlsPort: null, Address, CertificatePath, CertificateKeyPath);

        if (AdminPassword is { Length: < 8 })
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, "Broker:Http:AdminPassword must be at least 8 characters.");
        }

        Jwt.Validate();
        if (RequestsPerSecond < 0)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Broker:Http:RequestsPerSecond must be 0 (no limit) or more (it is {RequestsPerSecond}).");
        }
    }
}
