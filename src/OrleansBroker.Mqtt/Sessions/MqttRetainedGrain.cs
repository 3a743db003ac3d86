using OrleansBroker.Mqtt.Protocol;
using OrleansBroker.Server.Hosting;

namespace OrleansBroker.Mqtt.Sessions;

/// <summary>The persisted retained messages of a tenant, by topic name.</summary>
[GenerateSerializer, Alias("ob.mqtt.retained-state")]
internal sealed class MqttRetainedState
{
    [Id(0)] public Dictionary<string, MqttRetainedMessage> Messages { get; set; } = new(StringComparer.Ordinal);
}

/// <summary>
/// A tenant's retained messages, held in memory and stored whole on each change (bounded by
/// <c>Broker:Mqtt:MaxRetainedMessages</c> and <c>MaxRetainedBytes</c>). Non-reentrant: changes are stored one at a time.
/// </summary>
internal sealed class MqttRetainedGrain(
    [PersistentState("mqtt-retained", BrokerOptions.StateStorageProviderName)] IPersistentState<MqttRetainedState> state,
    TimeProvider time) : Grain, IMqttRetainedGrain
{
    private long _bytes = -1;

    private Dictionary<string, MqttRetainedMessage> Messages => state.State.Messages;

    public async Task<bool> Set(MqttRetainedMessage message, int maxMessages, long maxBytes)
    {
        if (_bytes < 0)
        {
            _bytes = Messages.Values.Sum(m => (long)m.Payload.Length);
        }

        var existing = Messages.GetValueOrDefault(message.Topic);
        if (message.Payload.Length == 0)
        {
            if (existing is null)
            {
                return true;
            }

            Messages.Remove(message.Topic);
            _bytes -= existing.Payload.Length;
        }
        else
        {
            DropExpired();
            var count = Messages.Count + (existing is null ? 1 : 0);
            var bytes = _bytes - (existing?.Payload.Length ?? 0) + message.Payload.Length;
            if (count > maxMessages || bytes > maxBytes)
            {
                return false;
            }

            Messages[message.Topic] = message;
            _bytes = bytes;
        }

        await state.WriteStateAsync();
        return true;
    }

    public Task<IReadOnlyList<MqttRetainedMessage>> Match(string filter)
    {
        var now = time.GetUtcNow();
        IReadOnlyList<MqttRetainedMessage> matched = [.. Messages.Values
            .Where(m => (m.ExpiresAt is null || m.ExpiresAt > now) && MqttNames.Matches(filter, m.Topic))
            .OrderBy(m => m.Topic, StringComparer.Ordinal)];
        return Task.FromResult(matched);
    }

    private void DropExpired()
    {
        var now = time.GetUtcNow();
        foreach (var (topic, message) in Messages)
        {
            if (message.ExpiresAt <= now)
            {
                Messages.Remove(topic);
                _bytes -= message.Payload.Length;
            }
        }
    }
}
