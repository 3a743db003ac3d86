using System.Collections.Concurrent;
using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using MQTTnet.Packets;
using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Identity;
using OrleansBroker.Mqtt.Hosting;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Server.Identity;
using OrleansBroker.Topics;

namespace OrleansBroker.Mqtt.Protocol;

/// <summary>What every MQTT connection of a silo shares: settings, the silo's broker client and grains, identities.</summary>
internal sealed class MqttEdge(
    IOptions<BrokerMqttOptions> options,
    IOptions<BrokerOptions> broker,
    IBrokerClient client,
    IGrainFactory grains,
    IdentityDirectory identities,
    TimeProvider time,
    MqttMetrics metrics,
    ILoggerFactory loggers)
{
    private readonly ConcurrentDictionary<string, Task> _topics = new(StringComparer.Ordinal);

    public BrokerMqttOptions Options { get; } = options.Value;

    public int MaxMessageBytes { get; } = broker.Value.MaxMessageBytes;

    /// <summary>Largest packet taken: a full-size message with room for its topic, properties and headers.</summary>
    public int MaxPacketBytes => MaxMessageBytes + 64 * 1024;

    public IBrokerClient Client { get; } = client;

    public IGrainFactory Grains { get; } = grains;

    public IdentityDirectory Identities { get; } = identities;

    public TimeProvider Time { get; } = time;

    public ILogger Logger { get; } = loggers.CreateLogger("OrleansBroker.Mqtt");

    public MqttMetrics Metrics { get; } = metrics;

    /// <summary>The tenant's MQTT topic inside the cluster, created the first time this silo needs it.</summary>
    public async Task<string> TopicAsync(string tenant)
    {
        var qualified = Tenants.Qualify(tenant, Options.Topic);
        var ensure = _topics.GetOrAdd(qualified, name => EnsureTopicAsync(name));
        try
        {
            await ensure.ConfigureAwait(false);
        }
        catch
        {
            _topics.TryRemove(new KeyValuePair<string, Task>(qualified, ensure));
            throw;
        }

        return qualified;
    }

    private async Task EnsureTopicAsync(string name)
    {
        try
        {
            await Grains.GetGrain<ITopicGrain>(name).Create(new TopicOptions()).ConfigureAwait(false);
        }
        catch (BrokerException exception) when (exception.Code == BrokerErrorCode.QueueExistsWithOtherOptions)
        {
            // Made by an operator with options of their own (retention, partitions): used as it is.
        }
    }

    /// <summary>
    /// The principal a CONNECT signs in as: a user by name and password, an API key given as the password (any user name),
    /// or, without either, <see cref="BrokerMqttOptions.AnonymousPrincipal"/> when one is set. Null when none.
    /// </summary>
    public async Task<PrincipalInfo?> SignInAsync(MqttConnectPacket connect, bool anonymous)
    {
        if (anonymous)
        {
            return Options.AnonymousPrincipal is { } principal ? await Identities.FindAsync(principal) : null;
        }

        if (connect.Password is null)
        {
            return null;
        }

        return await Identities.SignInWithUserOrKeyAsync(connect.Username ?? "", Encoding.UTF8.GetString(connect.Password));
    }
}
