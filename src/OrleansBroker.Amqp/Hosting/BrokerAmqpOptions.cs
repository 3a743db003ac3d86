using OrleansBroker.Errors;
using OrleansBroker.Server.Hosting;

namespace OrleansBroker.Amqp.Hosting;

/// <summary>
/// The AMQP 1.0 listener every silo runs (section <c>Broker:Amqp</c>; silo-host switches <c>--amqp-port</c>, <c>--amqp-address</c>).
/// </summary>
public sealed class BrokerAmqpOptions
{
    /// <summary>Configuration section: <c>Broker:Amqp</c>.</summary>
    public const string SectionName = "Broker:Amqp";

    /// <summary>Default port: 5672, AMQP's registered port.</summary>
    public const int DefaultPort = 5672;

    /// <summary>Default TLS port: 5671, AMQP over TLS's registered port.</summary>
    public const int DefaultTlsPort = 5671;

    /// <summary>Whether the silo serves AMQP 1.0. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Port of plain AMQP; 0 picks a free one (see the startup log line), -1 turns plain AMQP off. Default 5672.</summary>
    public int Port { get; set; } = DefaultPort;

    /// <summary>
    /// Address to listen on. Default <c>127.0.0.1</c>, as the HTTP API: only this machine reaches it. Set <c>0.0.0.0</c> (or
    /// <c>::</c>) to serve other machines, with TLS.
    /// </summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>Port of AMQP over TLS, served only when <see cref="CertificatePath"/> is set. Default 5671; 0 picks a free one.</summary>
    public int TlsPort { get; set; } = DefaultTlsPort;

    /// <summary>TLS certificate: a PFX file, or a PEM certificate file with <see cref="CertificateKeyPath"/>. Default none (no TLS port).</summary>
    public string? CertificatePath { get; set; }

    /// <summary>The PEM private key of <see cref="CertificatePath"/>; not used with a PFX.</summary>
    public string? CertificateKeyPath { get; set; }

    /// <summary>Password of the PFX or of an encrypted PEM key.</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>
    /// A principal whose permissions clients that sign in with SASL ANONYMOUS get, in its home tenant. Default none: ANONYMOUS
    /// is not offered and only SASL PLAIN is. Give it only what anonymous clients need.
    /// </summary>
    public string? AnonymousPrincipal { get; set; }

    /// <summary>
    /// Credit the broker gives a client's sending link: most messages it may have sent and not yet settled by the broker (a
    /// message is settled once durable). Default 1,000.
    /// </summary>
    public int LinkCredit { get; set; } = 1_000;

    /// <summary>
    /// Most deliveries a receiving link holds leased and unsettled: the link's prefetch is its first credit, capped at this.
    /// Default 1,000; at most 10,000.
    /// </summary>
    public int MaxPrefetch { get; set; } = 1_000;

    /// <summary>Most sessions a connection begins. Default 16.</summary>
    public int MaxSessionsPerConnection { get; set; } = 16;

    /// <summary>Most links a session attaches. Default 64.</summary>
    public int MaxLinksPerSession { get; set; } = 64;

    /// <summary>Largest frame, in bytes, either side sends; larger messages travel in several frames. Default 256 KiB.</summary>
    public int MaxFrameSize { get; set; } = 256 * 1024;

    /// <summary>
    /// Idle timeout the broker asks of clients (AMQP heartbeats): a connection that sends nothing, not even an empty frame,
    /// for this long is closed. Default 60 seconds; 0 for none.
    /// </summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>How long a client has to finish SASL after connecting before it is dropped. Default 10 seconds.</summary>
    public TimeSpan SaslTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) naming the bad setting.</summary>
    public void Validate()
    {
        if (!Enabled)
        {
            return;
        }

        SiloListeners.Validate("Broker:Amqp", Port, portMayBeOff: true, TlsPort, Address, CertificatePath, CertificateKeyPath);

        if (LinkCredit is < 1 or > 100_000)
        {
            throw Invalid($"Broker:Amqp:LinkCredit must be 1 to 100000 (it is {LinkCredit}).");
        }

        if (MaxPrefetch is < 1 or > BrokerLimits.MaxPrefetch)
        {
            throw Invalid($"Broker:Amqp:MaxPrefetch must be 1 to {BrokerLimits.MaxPrefetch} (it is {MaxPrefetch}).");
        }

        if (MaxSessionsPerConnection is < 1 or > ushort.MaxValue || MaxLinksPerSession is < 1 or > 65536)
        {
            throw Invalid("Broker:Amqp:MaxSessionsPerConnection must be 1 to 65535 and MaxLinksPerSession 1 to 65536.");
        }

        if (MaxFrameSize is < 4096 or > 16 * 1024 * 1024)
        {
            throw Invalid($"Broker:Amqp:MaxFrameSize must be 4096 to 16777216 bytes (it is {MaxFrameSize}).");
        }

        if (IdleTimeout < TimeSpan.Zero || IdleTimeout > TimeSpan.FromDays(1) || SaslTimeout <= TimeSpan.Zero || SaslTimeout > TimeSpan.FromMinutes(5))
        {
            throw Invalid("Broker:Amqp:IdleTimeout must be 0 (none) to 1 day and SaslTimeout above 0 and at most 5 minutes.");
        }
    }

    private static BrokerException Invalid(string message) => new(BrokerErrorCode.InvalidOptions, message);
}
