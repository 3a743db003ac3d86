using Orleans.Concurrency;

namespace OrleansBroker.Mqtt.Sessions;

/// <summary>One filter a session subscribed to, with the QoS granted and MQTT 5's No Local.</summary>
[GenerateSerializer, Immutable, Alias("ob.mqtt.grant")]
internal sealed record MqttGrant([property: Id(0)] string Filter, [property: Id(1)] byte QoS, [property: Id(2)] bool NoLocal = false);

/// <summary>What a connection learns when it takes a session.</summary>
/// <param name="Present">Whether the session existed (MQTT's Session Present).</param>
/// <param name="Grants">Its subscriptions.</param>
/// <param name="Queue">The subscription queue that holds its messages.</param>
/// <param name="PreviousConsumer">The consumer id of the connection that had it before (its leases are given back), or null.</param>
[GenerateSerializer, Immutable, Alias("ob.mqtt.session-start")]
internal sealed record MqttSessionStart(
    [property: Id(0)] bool Present,
    [property: Id(1)] IReadOnlyList<MqttGrant> Grants,
    [property: Id(2)] string Queue,
    [property: Id(3)] string? PreviousConsumer);

/// <summary>A connection as its session grain reaches it: told when another connection takes the session over.</summary>
internal interface IMqttConnectionObserver : IGrainObserver
{
    [OneWay, Alias("taken-over")]
    Task TakenOver();
}

/// <summary>
/// One MQTT session (key: tenant, a newline, client id): its subscriptions, durable in the broker's grain storage, with the
/// broker subscription that holds its messages; which connection has it; when it expires.
/// </summary>
[Alias("ob.mqtt.session")]
internal interface IMqttSessionGrain : IGrainWithStringKey
{
    /// <summary>
    /// Gives the session to <paramref name="consumer"/> (a new connection), taking it from any other; with
    /// <paramref name="cleanStart"/> the old one is discarded first. <paramref name="expirySeconds"/>: how long it outlives
    /// the connection (0 not at all, <see cref="uint.MaxValue"/> for ever).
    /// </summary>
    [Alias("connect")]
    Task<MqttSessionStart> Connect(string topic, string consumer, bool cleanStart, uint expirySeconds, IMqttConnectionObserver connection);

    /// <summary>Adds or replaces grants; the broker subscription routes by them before this returns. Returns every grant.</summary>
    [Alias("subscribe")]
    Task<IReadOnlyList<MqttGrant>> Subscribe(string consumer, IReadOnlyList<MqttGrant> grants);

    /// <summary>Removes grants by filter; returns those left (none: the broker subscription and its queue are gone).</summary>
    [Alias("unsubscribe")]
    Task<IReadOnlyList<MqttGrant>> Unsubscribe(string consumer, IReadOnlyList<string> filters);

    /// <summary>The connection <paramref name="consumer"/> ended; the session ends too unless it outlives it (<paramref name="expirySeconds"/>).</summary>
    [Alias("disconnect")]
    Task Disconnect(string consumer, uint expirySeconds);
}

/// <summary>A retained message: the last one published with the retain flag to its topic name.</summary>
[GenerateSerializer, Immutable, Alias("ob.mqtt.retained")]
internal sealed record MqttRetainedMessage(
    [property: Id(0)] string Topic,
    [property: Id(1)] byte[] Payload,
    [property: Id(2)] byte QoS,
    [property: Id(3)] string? ContentType = null,
    [property: Id(4)] IReadOnlyDictionary<string, string>? Headers = null,
    [property: Id(5)] DateTimeOffset? ExpiresAt = null);

/// <summary>A tenant's retained messages (key: <see cref="Key"/>), durable in the broker's grain storage.</summary>
[Alias("ob.mqtt.retained-store")]
internal interface IMqttRetainedGrain : IGrainWithStringKey
{
    /// <summary>The grain key of <paramref name="tenant"/>'s retained messages (never empty, as the default tenant's name is).</summary>
    static string Key(string tenant) => "@" + tenant;

    /// <summary>
    /// Stores <paramref name="message"/> as its topic's retained message, or, with an empty payload, removes it. False when
    /// the tenant's limits (<paramref name="maxMessages"/>, <paramref name="maxBytes"/>) leave no room.
    /// </summary>
    [Alias("set")]
    Task<bool> Set(MqttRetainedMessage message, int maxMessages, long maxBytes);

    /// <summary>The retained messages whose topic <paramref name="filter"/> matches, unexpired.</summary>
    [Alias("match")]
    Task<IReadOnlyList<MqttRetainedMessage>> Match(string filter);
}
