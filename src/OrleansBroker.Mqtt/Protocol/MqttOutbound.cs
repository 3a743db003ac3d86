using System.Collections.Concurrent;
using MQTTnet.Protocol;
using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Mqtt.Sessions;
using OrleansBroker.Queues;

namespace OrleansBroker.Mqtt.Protocol;

/// <summary>
/// What a connection sends its client: the session's subscription queue, consumed in order with at most
/// <paramref name="window"/> unsettled; each message at the highest QoS its matching filters were granted (never above the
/// QoS it was published with). QoS 0 is settled when written, QoS 1 when the client's PUBACK arrives (settlements are
/// batched by the broker client). Retained messages go out on subscribe.
/// </summary>
internal sealed class MqttOutbound(
    MqttEdge edge, MqttPacketChannel channel, bool v5, string clientId, string consumerId, string queue, int window, int clientMaxPacket, Func<Task> failed)
{
    private readonly ConcurrentDictionary<ushort, Delivery?> _outstanding = new();
    private readonly Lock _packetIds = new();
    private ushort _lastPacketId;
    private CancellationTokenSource? _stop;
    private Task? _consuming;

    /// <summary>The session's filters, as its grain last answered; deliveries are matched against them.</summary>
    public volatile IReadOnlyList<MqttGrant> Grants = [];

    /// <summary>Whether the subscription queue is being consumed.</summary>
    public bool Consuming => _consuming is not null;

    /// <summary>Starts consuming the subscription queue (which exists once the session has a filter).</summary>
    public void Start(CancellationToken connection)
    {
        _stop = CancellationTokenSource.CreateLinkedTokenSource(connection);
        _consuming = ConsumeAsync(_stop.Token);
    }

    /// <summary>Stops consuming; the consumer's unsettled messages go back to the queue.</summary>
    public async Task StopAsync()
    {
        if (_consuming is { } consuming)
        {
            await _stop!.CancelAsync();
            await consuming;
            _consuming = null;
            _stop.Dispose();
            _stop = null;
        }
    }

    /// <summary>PUBACK: the message sent with <paramref name="packetId"/> is settled.</summary>
    public void Acknowledged(ushort packetId)
    {
        if (_outstanding.TryRemove(packetId, out var delivery) && delivery is not null)
        {
            Settle(delivery);
        }
    }

    /// <summary>Sends a retained message that a new subscription's filter (granted <paramref name="grantedQoS"/>) matches.</summary>
    public void SendRetained(MqttRetainedMessage retained, byte grantedQoS)
    {
        var qos = (MqttQualityOfServiceLevel)Math.Min(retained.QoS, grantedQoS);
        var packet = MqttMessages.ToPacket(v5, retained.Topic, retained.Payload, qos, retained.ContentType, retained.Headers, retain: true, dup: false);
        if (qos != MqttQualityOfServiceLevel.AtMostOnce)
        {
            packet.PacketIdentifier = NextPacketId(null);
        }

        channel.Send(packet);
        edge.Metrics.Sent(qos);
    }

    /// <summary>Gives the leases <paramref name="consumer"/> (a connection that had the session before) holds back to <paramref name="queue"/>, to be sent again at once.</summary>
    public static async Task GiveBackLeasesAsync(MqttEdge edge, string queue, string consumer)
    {
        try
        {
            await edge.Grains.GetGrain<IQueueGrain>(queue).Unsubscribe(consumer);
        }
        catch (BrokerException exception) when (exception.Code == BrokerErrorCode.QueueNotFound)
        {
            // The session has no subscription yet.
        }
    }

    private async Task ConsumeAsync(CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            var options = new ConsumerOptions { Prefetch = window, ConsumerId = consumerId };
            await foreach (var delivery in edge.Client.ReadAllAsync(queue, options, cancellationToken))
            {
                Deliver(delivery);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        catch (Exception exception)
        {
            // The client reconnects and resumes its session, on this silo or another.
            MqttLog.ConnectionFailed(edge.Logger, exception, clientId);
            await failed();
        }
    }

    private void Deliver(Delivery delivery)
    {
        var topic = MqttNames.ToTopicName(delivery.RoutingKey, edge.Options.Topic);
        var publisher = delivery.Headers?.GetValueOrDefault(MqttMessages.ClientHeader);
        var qos = -1;
        foreach (var grant in Grants)
        {
            if (grant.QoS > qos && !(grant.NoLocal && publisher == clientId) && MqttNames.Matches(grant.Filter, topic))
            {
                qos = grant.QoS;
            }
        }

        if (qos < 0 || delivery.Body.Length + topic.Length + 64 > clientMaxPacket)
        {
            // No filter takes it any more (unsubscribed meanwhile), or the client said it cannot take one this large.
            Settle(delivery);
            return;
        }

        if (delivery.Headers?.GetValueOrDefault(MqttMessages.QosHeader) == "0")
        {
            qos = 0;
        }

        var packet = MqttMessages.ToPacket(v5, topic, delivery.Body, (MqttQualityOfServiceLevel)qos, delivery.ContentType, delivery.Headers, retain: false, dup: qos > 0 && delivery.Attempt > 1);
        edge.Metrics.Sent(packet.QualityOfServiceLevel);
        if (qos == 0)
        {
            channel.Send(packet);
            Settle(delivery);
            return;
        }

        packet.PacketIdentifier = NextPacketId(delivery);
        channel.Send(packet);
    }

    private ushort NextPacketId(Delivery? delivery)
    {
        lock (_packetIds)
        {
            while (true)
            {
                _lastPacketId = (ushort)(_lastPacketId == ushort.MaxValue ? 1 : _lastPacketId + 1);
                if (_outstanding.TryAdd(_lastPacketId, delivery))
                {
                    return _lastPacketId;
                }
            }
        }
    }

    private void Settle(Delivery delivery) => _ = SettleAsync(delivery);

    private async Task SettleAsync(Delivery delivery)
    {
        try
        {
            await edge.Client.CompleteAsync(delivery);
        }
        catch (Exception exception)
        {
            // Its lease was given back meanwhile (a reconnect): the message comes again, marked DUP.
            MqttLog.SettleFailed(edge.Logger, exception, clientId, delivery.MessageId);
        }
    }
}
