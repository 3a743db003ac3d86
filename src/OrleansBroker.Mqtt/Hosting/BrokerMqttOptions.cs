using OrleansBroker.Errors;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Topics;

namespace OrleansBroker.Mqtt.Hosting;

/// <summary>
/// The MQTT listener every silo runs (section <c>Broker:Mqtt</c>; silo-host switches <c>--mqtt-port</c>, <c>--mqtt-address</c>).
/// </summary>
public sealed class BrokerMqttOptions
{
    /// <summary>Configuration section: <c>Broker:Mqtt</c>.</summary>
    public const string SectionName = "Broker:Mqtt";

    /// <summary>Default port: 1883, MQTT's registered port.</summary>
    public const int DefaultPort = 1883;

    /// <summary>Default TLS port: 8883, MQTT over TLS's registered port.</summary>
    public const int DefaultTlsPort = 8883;

    /// <summary>Default <see cref="Topic"/>: <c>mqtt</c>.</summary>
    public const string DefaultTopic = "mqtt";

    /// <summary>Whether the silo serves MQTT. Default true.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>Port of plain MQTT; 0 picks a free one (see the startup log line), -1 turns plain MQTT off. Default 1883.</summary>
    public int Port { get; set; } = DefaultPort;

    /// <summary>
    /// Address to listen on. Default <c>127.0.0.1</c>, as the HTTP API: only this machine reaches it. Set <c>0.0.0.0</c> (or
    /// <c>::</c>) to serve devices elsewhere, with TLS.
    /// </summary>
    public string Address { get; set; } = "127.0.0.1";

    /// <summary>Port of MQTT over TLS, served only when <see cref="CertificatePath"/> is set. Default 8883; 0 picks a free one.</summary>
    public int TlsPort { get; set; } = DefaultTlsPort;

    /// <summary>TLS certificate: a PFX file, or a PEM certificate file with <see cref="CertificateKeyPath"/>. Default none (no TLS port).</summary>
    public string? CertificatePath { get; set; }

    /// <summary>The PEM private key of <see cref="CertificatePath"/>; not used with a PFX.</summary>
    public string? CertificateKeyPath { get; set; }

    /// <summary>Password of the PFX or of an encrypted PEM key.</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>
    /// The broker topic, in each tenant, whose routing keys MQTT topic names become. Default <c>mqtt</c>; it is created with
    /// default options the first time a client of the tenant connects.
    /// </summary>
    public string Topic { get; set; } = DefaultTopic;

    /// <summary>
    /// A principal whose permissions clients that connect without a user name get, in its home tenant. Default none: such
    /// connects are refused. Give it only what anonymous devices need.
    /// </summary>
    public string? AnonymousPrincipal { get; set; }

    /// <summary>Most topic filters one session subscribes to at once; a SUBSCRIBE past it is refused for the filters over it. Default 100.</summary>
    public int MaxSubscriptionsPerSession { get; set; } = SubscriptionFilter.MaxValues;

    /// <summary>
    /// Most QoS 1 messages sent to one client and not yet acknowledged (the client's own Receive Maximum applies when lower).
    /// Default 256.
    /// </summary>
    public int MaxInflight { get; set; } = 256;

    /// <summary>Most retained messages a tenant keeps; a retained publish past it is refused (QoS 1: PUBACK with quota exceeded). Default 10,000.</summary>
    public int MaxRetainedMessages { get; set; } = 10_000;

    /// <summary>Most bytes of retained payloads a tenant keeps. Default 16 MiB.</summary>
    public long MaxRetainedBytes { get; set; } = 16L * 1024 * 1024;

    /// <summary>
    /// Longest keep-alive granted; a client asking for none or for more is told this one (MQTT 5 Server Keep Alive; MQTT 3.1.1
    /// clients are held to what they asked). Default 15 minutes.
    /// </summary>
    public TimeSpan MaxKeepAlive { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) naming the bad setting.</summary>
    public void Validate()
    {
        if (!Enabled)
        {
            return;
        }

        SiloListeners.Validate("Broker:Mqtt", Port, portMayBeOff: true, TlsPort, Address, CertificatePath, CertificateKeyPath);

        if ((Queues.QueueName.Explain(Topic) ?? (Topic.Contains('/', StringComparison.Ordinal) || Topic.Contains(Identity.Tenants.Separator, StringComparison.Ordinal) ? "it may not have '/' or '@'" : null)) is { } problem)
        {
            throw Invalid($"Broker:Mqtt:Topic '{Topic}' is not a topic name: {problem}");
        }

        if (MaxSubscriptionsPerSession is < 1 or > SubscriptionFilter.MaxValues)
        {
            throw Invalid($"Broker:Mqtt:MaxSubscriptionsPerSession must be 1 to {SubscriptionFilter.MaxValues} (it is {MaxSubscriptionsPerSession}).");
        }

        if (MaxInflight is < 1 or > 65535)
        {
            throw Invalid($"Broker:Mqtt:MaxInflight must be 1 to 65535 (it is {MaxInflight}).");
        }

        if (MaxRetainedMessages < 0 || MaxRetainedBytes < 0)
        {
            throw Invalid("Broker:Mqtt:MaxRetainedMessages and MaxRetainedBytes must be 0 (no retained messages) or more.");
        }

        if (MaxKeepAlive < TimeSpan.FromSeconds(1) || MaxKeepAlive > TimeSpan.FromSeconds(ushort.MaxValue))
        {
            throw Invalid($"Broker:Mqtt:MaxKeepAlive must be 1 second to {TimeSpan.FromSeconds(ushort.MaxValue)} (it is {MaxKeepAlive}).");
        }
    }

    private static BrokerException Invalid(string message) => new(BrokerErrorCode.InvalidOptions, message);
}
