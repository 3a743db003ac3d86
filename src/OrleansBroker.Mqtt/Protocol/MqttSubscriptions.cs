using MQTTnet.Packets;
using MQTTnet.Protocol;
using OrleansBroker.Errors;
using OrleansBroker.Mqtt.Sessions;

namespace OrleansBroker.Mqtt.Protocol;

/// <summary>
/// A connection's SUBSCRIBE and UNSUBSCRIBE: each filter checked (syntax, permission, the session's limit), the granted
/// ones given to the session's grain (which changes the broker subscription's filter), SUBACK or UNSUBACK with a code per
/// filter, retained messages for new subscriptions, and the subscription queue consumed while the session has a filter.
/// A session taken over meanwhile ends the connection (its grain answers LeaseLost).
/// </summary>
internal sealed class MqttSubscriptions(
    MqttEdge edge, MqttPacketChannel channel, string clientId, string consumerId, MqttPermissions permissions, IMqttSessionGrain session, MqttOutbound outbound,
    CancellationToken connection)
{
    public async Task SubscribeAsync(MqttSubscribePacket subscribe)
    {
        var current = outbound.Grants;
        var codes = new List<MqttSubscribeReasonCode>(subscribe.TopicFilters.Count);
        var granted = new List<(MqttGrant Grant, MqttTopicFilter Asked, bool New)>();
        var count = current.Count;
        foreach (var filter in subscribe.TopicFilters)
        {
            var isNew = !current.Any(g => g.Filter == filter.Topic) && !granted.Any(g => g.Grant.Filter == filter.Topic);
            if (MqttNames.ExplainFilter(filter.Topic) is { } problem)
            {
                MqttLog.SubscribeRefused(edge.Logger, clientId, filter.Topic, problem);
                codes.Add(filter.Topic?.StartsWith("$share/", StringComparison.Ordinal) == true ? MqttSubscribeReasonCode.SharedSubscriptionsNotSupported : MqttSubscribeReasonCode.TopicFilterInvalid);
            }
            else if (!permissions.MayReceive(filter.Topic!))
            {
                MqttLog.SubscribeRefused(edge.Logger, clientId, filter.Topic, "not authorized");
                codes.Add(MqttSubscribeReasonCode.NotAuthorized);
            }
            else if (isNew && count >= edge.Options.MaxSubscriptionsPerSession)
            {
                MqttLog.SubscribeRefused(edge.Logger, clientId, filter.Topic, $"the session has {count} subscriptions, the most allowed (Broker:Mqtt:MaxSubscriptionsPerSession)");
                codes.Add(MqttSubscribeReasonCode.QuotaExceeded);
            }
            else
            {
                var qos = (byte)Math.Min((int)filter.QualityOfServiceLevel, 1);
                granted.Add((new MqttGrant(filter.Topic!, qos, filter.NoLocal), filter, isNew));
                codes.Add(qos == 0 ? MqttSubscribeReasonCode.GrantedQoS0 : MqttSubscribeReasonCode.GrantedQoS1);
                count += isNew ? 1 : 0;
            }
        }

        if (granted.Count > 0)
        {
            try
            {
                outbound.Grants = await session.Subscribe(consumerId, [.. granted.Select(g => g.Grant)]);
            }
            catch (BrokerException exception) when (exception.Code == BrokerErrorCode.LeaseLost)
            {
                throw new OperationCanceledException(exception.Message, exception);
            }
            catch (Exception exception)
            {
                MqttLog.ConnectionFailed(edge.Logger, exception, clientId);
                codes = [.. codes.Select(c => c is MqttSubscribeReasonCode.GrantedQoS0 or MqttSubscribeReasonCode.GrantedQoS1 ? MqttSubscribeReasonCode.UnspecifiedError : c)];
                granted.Clear();
            }
        }

        channel.Send(new MqttSubAckPacket { PacketIdentifier = subscribe.PacketIdentifier, ReasonCodes = codes });
        if (granted.Count == 0)
        {
            return;
        }

        if (!outbound.Consuming)
        {
            outbound.Start(connection);
        }

        var retained = edge.Grains.GetGrain<IMqttRetainedGrain>(IMqttRetainedGrain.Key(permissions.Tenant));
        foreach (var (grant, asked, isNew) in granted)
        {
            if (asked.RetainHandling == MqttRetainHandling.SendAtSubscribe || asked.RetainHandling == MqttRetainHandling.SendAtSubscribeIfNewSubscriptionOnly && isNew)
            {
                foreach (var message in await retained.Match(grant.Filter))
                {
                    outbound.SendRetained(message, grant.QoS);
                }
            }
        }
    }

    public async Task UnsubscribeAsync(MqttUnsubscribePacket unsubscribe)
    {
        var before = outbound.Grants;
        var codes = unsubscribe.TopicFilters
            .Select(f => before.Any(g => g.Filter == f) ? MqttUnsubscribeReasonCode.Success : MqttUnsubscribeReasonCode.NoSubscriptionExisted)
            .ToList();
        if (before.All(g => unsubscribe.TopicFilters.Contains(g.Filter)))
        {
            // The last filter goes with the subscription queue: stop taking from it first.
            await outbound.StopAsync();
        }

        try
        {
            outbound.Grants = await session.Unsubscribe(consumerId, unsubscribe.TopicFilters);
        }
        catch (BrokerException exception) when (exception.Code == BrokerErrorCode.LeaseLost)
        {
            throw new OperationCanceledException(exception.Message, exception);
        }
        catch (Exception exception)
        {
            MqttLog.ConnectionFailed(edge.Logger, exception, clientId);
            codes = [.. codes.Select(c => c == MqttUnsubscribeReasonCode.Success ? MqttUnsubscribeReasonCode.UnspecifiedError : c)];
        }

        channel.Send(new MqttUnsubAckPacket { PacketIdentifier = unsubscribe.PacketIdentifier, ReasonCodes = codes });
        if (outbound.Grants.Count > 0 && !outbound.Consuming)
        {
            outbound.Start(connection);
        }
    }
}
