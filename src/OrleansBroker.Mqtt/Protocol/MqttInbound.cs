using System.Collections.Concurrent;
using System.Threading.Channels;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Mqtt.Sessions;

namespace OrleansBroker.Mqtt.Protocol;

/// <summary>A publish the read loop accepted, waiting to be stored.</summary>
internal sealed record InboundPublish(ushort PacketId, MqttQualityOfServiceLevel QoS, BrokerMessage Message, string Topic, bool Retain);

/// <summary>
/// A connection's publishes on their way to storage: the read loop hands them over, one loop stores them in topic batches
/// (the next batch collects while one is stored, so many publishes in flight share one commit) and acknowledges each in
/// order once durable (PUBACK, or PUBREC for QoS 2, whose packet id is then remembered until PUBREL).
/// </summary>
internal sealed class MqttInbound(MqttEdge edge, MqttPacketChannel channel, bool v5, string clientId, string tenant, string topic, Action storageFailed)
{
    /// <summary>Most publishes stored with one topic call.</summary>
    private const int MaxBatch = 500;

    /// <summary>QoS 1 and 2 publishes a client may have unacknowledged (MQTT 5 Receive Maximum); reading pauses past it.</summary>
    public const int Window = 1000;

    private readonly Channel<InboundPublish> _pending = Channel.CreateBounded<InboundPublish>(new BoundedChannelOptions(Window) { SingleReader = true, SingleWriter = true });
    private readonly ConcurrentDictionary<ushort, byte> _awaitingRelease = new();

    /// <summary>Whether a QoS 2 publish with <paramref name="packetId"/> is stored and waits for its PUBREL (a resend is not stored again).</summary>
    public bool AwaitsRelease(ushort packetId) => _awaitingRelease.ContainsKey(packetId);

    /// <summary>PUBREL: the QoS 2 exchange of <paramref name="packetId"/> ends with PUBCOMP.</summary>
    public void Release(ushort packetId)
    {
        _awaitingRelease.TryRemove(packetId, out _);
        channel.Send(new MqttPubCompPacket { PacketIdentifier = packetId });
    }

    /// <summary>Takes an accepted publish; waits while <see cref="Window"/> are waiting to be stored.</summary>
    public ValueTask TakeAsync(InboundPublish publish, CancellationToken cancellationToken) => _pending.Writer.WriteAsync(publish, cancellationToken);

    /// <summary>No more publishes; <see cref="RunAsync"/> ends once what was taken is stored.</summary>
    public void Complete() => _pending.Writer.TryComplete();

    /// <summary>Stores what was taken, batch by batch, and acknowledges it in order, until <see cref="Complete"/>.</summary>
    public async Task RunAsync()
    {
        var reader = _pending.Reader;
        var batch = new List<InboundPublish>();
        while (await reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < MaxBatch && reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            try
            {
                await edge.Client.PublishBatchToTopicAsync(topic, [.. batch.Select(b => b.Message)]);
            }
            catch (Exception exception)
            {
                Failed(batch, exception);
                continue;
            }

            foreach (var item in batch)
            {
                edge.Metrics.Received(item.QoS);
                var retained = !item.Retain || await RetainAsync(item.Topic, item.Message, item.QoS);
                Acknowledge(item.PacketId, item.QoS, retained || !v5 ? MqttPubAckReasonCode.Success : MqttPubAckReasonCode.QuotaExceeded,
                    retained ? null : "published, but not retained: the tenant's retained messages are at their limit");
            }
        }
    }

    /// <summary>Acknowledges a QoS 1 or 2 publish with <paramref name="reason"/> (QoS 0 has nothing to acknowledge).</summary>
    public void Acknowledge(ushort packetId, MqttQualityOfServiceLevel qos, MqttPubAckReasonCode reason, string? why = null)
    {
        switch (qos)
        {
            case MqttQualityOfServiceLevel.AtLeastOnce:
                channel.Send(new MqttPubAckPacket { PacketIdentifier = packetId, ReasonCode = reason, ReasonString = v5 ? why : null });
                break;
            case MqttQualityOfServiceLevel.ExactlyOnce:
                if (reason == MqttPubAckReasonCode.Success)
                {
                    _awaitingRelease.TryAdd(packetId, 0);
                }

                channel.Send(new MqttPubRecPacket { PacketIdentifier = packetId, ReasonCode = (MqttPubRecReasonCode)(int)reason, ReasonString = v5 ? why : null });
                break;
        }
    }

    /// <summary>Makes <paramref name="message"/> its topic's retained message (an empty one removes it); false when it was not.</summary>
    public async Task<bool> RetainAsync(string topicName, BrokerMessage message, MqttQualityOfServiceLevel qos)
    {
        var options = edge.Options;
        var retained = new MqttRetainedMessage(topicName, message.Body, (byte)qos, message.ContentType, message.Headers,
            message.TimeToLive is { } ttl ? edge.Time.GetUtcNow() + ttl : null);
        try
        {
            var stored = await edge.Grains.GetGrain<IMqttRetainedGrain>(IMqttRetainedGrain.Key(tenant)).Set(retained, options.MaxRetainedMessages, options.MaxRetainedBytes);
            if (!stored)
            {
                MqttLog.RetainedFull(edge.Logger, tenant, topicName, options.MaxRetainedMessages, options.MaxRetainedBytes);
            }

            return stored;
        }
        catch (Exception exception)
        {
            MqttLog.PublishFailed(edge.Logger, exception, clientId, 1);
            return false;
        }
    }

    /// <summary>
    /// A batch the broker did not store: MQTT 5 clients get a negative acknowledgement for each publish; MQTT 3.1.1 has none
    /// to give, so the connection ends and its client sends again what was not acknowledged.
    /// </summary>
    private void Failed(List<InboundPublish> batch, Exception exception)
    {
        MqttLog.PublishFailed(edge.Logger, exception, clientId, batch.Count);
        if (!v5)
        {
            storageFailed();
            return;
        }

        var reason = exception is BrokerException { Code: BrokerErrorCode.StorageFull or BrokerErrorCode.QueueFull or BrokerErrorCode.RateLimited }
            ? MqttPubAckReasonCode.QuotaExceeded
            : MqttPubAckReasonCode.UnspecifiedError;
        var why = exception is BrokerException broker ? broker.Message : "the broker could not store the message";
        foreach (var item in batch)
        {
            Acknowledge(item.PacketId, item.QoS, reason, why);
        }
    }
}
