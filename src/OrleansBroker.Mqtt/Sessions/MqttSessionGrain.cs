using Microsoft.Extensions.Logging;
using OrleansBroker.Errors;
using OrleansBroker.Mqtt.Protocol;
using OrleansBroker.Queues;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Topics;

namespace OrleansBroker.Mqtt.Sessions;

/// <summary>The persisted part of a session.</summary>
[GenerateSerializer, Alias("ob.mqtt.session-state")]
internal sealed class MqttSessionState
{
    [Id(0)] public bool Exists { get; set; }

    /// <summary>The tenant's MQTT topic, inside the cluster.</summary>
    [Id(1)] public string Topic { get; set; } = "";

    [Id(2)] public Dictionary<string, MqttGrant> Grants { get; set; } = new(StringComparer.Ordinal);

    /// <summary>The consumer id of the connection that had it last.</summary>
    [Id(3)] public string? Consumer { get; set; }

    [Id(4)] public uint ExpirySeconds { get; set; }

    /// <summary>When its last connection ended, while no other has it.</summary>
    [Id(5)] public DateTimeOffset? DisconnectedAt { get; set; }
}

/// <summary>
/// An MQTT session. Its messages are in a subscription of the tenant's MQTT topic whose filter is the session's filters as
/// routing patterns; subscribing changes that filter, so messages already queued stay. A session that outlives its
/// connection for a while is ended by a reminder once that while is over.
/// </summary>
internal sealed partial class MqttSessionGrain(
    [PersistentState("mqtt-session", BrokerOptions.StateStorageProviderName)] IPersistentState<MqttSessionState> state,
    TimeProvider time,
    ILogger<MqttSessionGrain> logger) : Grain, IMqttSessionGrain, IRemindable
{
    private const string ExpiryReminder = "expiry";

    /// <summary>Queue options of a session's subscription: no dead-lettering (MQTT has none), a long lease (a connection's
    /// leases are given back when its client reconnects, not when they run out).</summary>
    internal static readonly QueueOptions SessionQueue = new()
    {
        LeaseDuration = TimeSpan.FromMinutes(10),
        MaxDeliveryAttempts = 0,
        DeadLetterQueue = "",
    };

    private IMqttConnectionObserver? _connection;
    private string? _connected;

    private string ClientId => this.GetPrimaryKeyString()[(this.GetPrimaryKeyString().IndexOf('\n', StringComparison.Ordinal) + 1)..];

    private string Subscription => MqttNames.SubscriptionName(ClientId);

    private MqttSessionState State => state.State;

    /// <summary>The grain key of a session.</summary>
    public static string Key(string tenant, string clientId) => string.Concat(tenant, "\n", clientId);

    public async Task<MqttSessionStart> Connect(string topic, string consumer, bool cleanStart, uint expirySeconds, IMqttConnectionObserver connection)
    {
        if (_connection is { } previous && _connected != consumer)
        {
            LogTakenOver(ClientId, _connected!, consumer);
            _ = previous.TakenOver();
        }

        _connection = connection;
        _connected = consumer;
        var expired = State is { Exists: true, DisconnectedAt: { } since } && State.ExpirySeconds != uint.MaxValue
            && time.GetUtcNow() >= since + TimeSpan.FromSeconds(State.ExpirySeconds);
        if (State.Exists && (cleanStart || expired))
        {
            await EndAsync();
        }

        var present = State.Exists;
        var previousConsumer = State.Consumer;
        if (!present || previousConsumer != consumer || State.ExpirySeconds != expirySeconds || State.DisconnectedAt is not null)
        {
            var wasDisconnected = State.DisconnectedAt is not null;
            State.Exists = true;
            State.Topic = topic;
            State.Consumer = consumer;
            State.ExpirySeconds = expirySeconds;
            State.DisconnectedAt = null;
            await state.WriteStateAsync();
            if (wasDisconnected)
            {
                await StopExpiryAsync();
            }
        }

        return new MqttSessionStart(present, [.. State.Grants.Values], QueueName, present ? previousConsumer : null);
    }

    public async Task<IReadOnlyList<MqttGrant>> Subscribe(string consumer, IReadOnlyList<MqttGrant> grants)
    {
        EnsureHeldBy(consumer);
        var had = State.Grants.Count > 0;
        var next = new Dictionary<string, MqttGrant>(State.Grants, StringComparer.Ordinal);
        foreach (var grant in grants)
        {
            next[grant.Filter] = grant;
        }

        var filter = FilterOf(next.Values);
        var topic = GrainFactory.GetGrain<ITopicGrain>(State.Topic);
        if (had)
        {
            await ChangeOrCreateAsync(topic, filter);
        }
        else
        {
            await CreateOrChangeAsync(topic, filter);
        }

        State.Grants = next;
        await state.WriteStateAsync();
        return [.. next.Values];
    }

    public async Task<IReadOnlyList<MqttGrant>> Unsubscribe(string consumer, IReadOnlyList<string> filters)
    {
        EnsureHeldBy(consumer);
        var next = new Dictionary<string, MqttGrant>(State.Grants, StringComparer.Ordinal);
        var removed = filters.Count(next.Remove);
        if (removed == 0)
        {
            return [.. next.Values];
        }

        var topic = GrainFactory.GetGrain<ITopicGrain>(State.Topic);
        if (next.Count == 0)
        {
            await RemoveSubscriptionAsync(topic);
        }
        else
        {
            await ChangeOrCreateAsync(topic, FilterOf(next.Values));
        }

        State.Grants = next;
        await state.WriteStateAsync();
        return [.. next.Values];
    }

    public async Task Disconnect(string consumer, uint expirySeconds)
    {
        if (_connected != consumer)
        {
            return;
        }

        _connection = null;
        _connected = null;
        if (!State.Exists)
        {
            return;
        }

        if (expirySeconds == 0)
        {
            await EndAsync();
            DeactivateOnIdle();
            return;
        }

        State.ExpirySeconds = expirySeconds;
        State.DisconnectedAt = time.GetUtcNow();
        await state.WriteStateAsync();
        if (expirySeconds != uint.MaxValue)
        {
            // Reminders fire at most once a minute; the session ends at the first one after its expiry.
            var due = TimeSpan.FromSeconds(expirySeconds);
            await this.RegisterOrUpdateReminder(ExpiryReminder, due, due < TimeSpan.FromMinutes(1) ? TimeSpan.FromMinutes(1) : due);
        }
    }

    public async Task ReceiveReminder(string reminderName, TickStatus status)
    {
        if (State is { Exists: true, DisconnectedAt: { } since } && _connection is null)
        {
            if (time.GetUtcNow() < since + TimeSpan.FromSeconds(State.ExpirySeconds))
            {
                return;
            }

            LogExpired(ClientId, State.ExpirySeconds);
            await EndAsync();
        }

        await StopExpiryAsync();
        DeactivateOnIdle();
    }

    private string QueueName => $"{State.Topic}/{Subscription}";

    private void EnsureHeldBy(string consumer)
    {
        if (_connected != consumer || !State.Exists)
        {
            throw new BrokerException(BrokerErrorCode.LeaseLost, $"MQTT session '{ClientId}' is held by another connection.");
        }
    }

    private static SubscriptionFilter FilterOf(IEnumerable<MqttGrant> grants) =>
        new([.. grants.Select(g => MqttNames.ToPattern(g.Filter)).Distinct(StringComparer.Ordinal)]);

    private async Task CreateOrChangeAsync(ITopicGrain topic, SubscriptionFilter filter)
    {
        try
        {
            await topic.Subscribe(new Subscription(Subscription, filter, SessionQueue), replayFrom: null);
        }
        catch (BrokerException exception) when (exception.Code == BrokerErrorCode.QueueExistsWithOtherOptions)
        {
            // Left from a subscribe whose state write did not happen.
            await topic.ChangeFilter(Subscription, filter);
        }
    }

    private async Task ChangeOrCreateAsync(ITopicGrain topic, SubscriptionFilter filter)
    {
        try
        {
            await topic.ChangeFilter(Subscription, filter);
        }
        catch (BrokerException exception) when (exception.Code == BrokerErrorCode.QueueNotFound)
        {
            await topic.Subscribe(new Subscription(Subscription, filter, SessionQueue), replayFrom: null);
        }
    }

    private async Task RemoveSubscriptionAsync(ITopicGrain topic)
    {
        try
        {
            await topic.Unsubscribe(Subscription);
        }
        catch (BrokerException exception) when (exception.Code is BrokerErrorCode.QueueNotFound or BrokerErrorCode.TopicNotFound)
        {
            // Already gone.
        }
    }

    /// <summary>Ends the session: its subscription (and the messages queued for it) and its state.</summary>
    private async Task EndAsync()
    {
        if (State.Grants.Count > 0 && State.Topic.Length > 0)
        {
            await RemoveSubscriptionAsync(GrainFactory.GetGrain<ITopicGrain>(State.Topic));
        }

        await state.ClearStateAsync();
        state.State = new MqttSessionState();
    }

    private async Task StopExpiryAsync()
    {
        if (await this.GetReminder(ExpiryReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT session {ClientId}: taken over from connection {Previous} by {Next}")]
    private partial void LogTakenOver(string clientId, string previous, string next);

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT session {ClientId} expired after {Seconds} s without a connection; its subscription and queued messages are removed")]
    private partial void LogExpired(string clientId, uint seconds);
}
