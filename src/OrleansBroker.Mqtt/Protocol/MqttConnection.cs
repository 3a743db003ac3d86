using System.Buffers;
using Microsoft.AspNetCore.Connections;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Mqtt.Sessions;

namespace OrleansBroker.Mqtt.Protocol;

/// <summary>
/// One MQTT client connection: CONNECT with the broker's principals, the read loop, SUBSCRIBE and UNSUBSCRIBE through the
/// session's grain, last will, keep-alive, takeover and the end. Publishes go to storage through <see cref="MqttInbound"/>,
/// the session's messages come through <see cref="MqttOutbound"/>. The session lives in a grain, so any silo can serve the
/// client after a reconnect.
/// </summary>
internal sealed class MqttConnection : IMqttConnectionObserver
{
    /// <summary>Longest wait for CONNECT after the socket opens.</summary>
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Longest wait for the last packets to be written when the connection ends.</summary>
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(5);

    private readonly MqttEdge _edge;
    private readonly ConnectionContext _context;
    private readonly MqttPacketChannel _channel;
    private readonly string _consumerId = "mqtt-" + Guid.NewGuid().ToString("N");
    private readonly CancellationTokenSource _closing = new();
    private readonly CancellationTokenSource _keepAlive = new();

    private string _clientId = "";
    private MqttConnectPacket? _connect;
    private MqttPermissions? _permissions;
    private string _topic = "";
    private IMqttSessionGrain? _session;
    private IMqttConnectionObserver? _self;
    private uint _expiry;
    private TimeSpan _keepAliveTimeout;
    private MqttInbound? _inbound;
    private MqttOutbound? _outbound;
    private MqttSubscriptions? _subscriptions;
    private bool _sendWill = true;
    private volatile bool _takenOver;

    public MqttConnection(MqttEdge edge, ConnectionContext context)
    {
        _edge = edge;
        _context = context;
        _channel = new MqttPacketChannel(context.Transport, edge.MaxPacketBytes);
    }

    private bool V5 => _channel.Version == MqttProtocolVersion.V500;

    private MqttPermissions Permissions => _permissions!;

    private MqttInbound Inbound => _inbound!;

    private MqttOutbound Outbound => _outbound!;

    private MqttSubscriptions Subscriptions => _subscriptions!;

    public async Task RunAsync()
    {
        _edge.Metrics.Opened();
        var writing = _channel.WriteLoopAsync(_context.ConnectionClosed);
        var publishing = Task.CompletedTask;
        try
        {
            MqttPacket? first;
            using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token, _context.ConnectionClosed))
            {
                connectTimeout.CancelAfter(ConnectTimeout);
                first = await _channel.ReadAsync(connectTimeout.Token);
            }

            if (first is not MqttConnectPacket connect || !await AcceptAsync(connect))
            {
                return;
            }

            publishing = Inbound.RunAsync();
            await ReadLoopAsync();
        }
        catch (MqttPacketTooLargeException exception)
        {
            MqttLog.RefusedPacket(_edge.Logger, _clientId, exception.Message);
            Disconnect(MqttDisconnectReasonCode.PacketTooLarge);
        }
        catch (MqttProtocolViolationException exception)
        {
            MqttLog.RefusedPacket(_edge.Logger, _clientId, exception.Message);
            Disconnect(MqttDisconnectReasonCode.ProtocolError);
        }
        catch (OperationCanceledException) when (_keepAlive.IsCancellationRequested)
        {
            MqttLog.KeepAliveExpired(_edge.Logger, _clientId);
            Disconnect(MqttDisconnectReasonCode.KeepAliveTimeout);
        }
        catch (Exception exception) when (exception is OperationCanceledException or ConnectionResetException or IOException or ConnectionAbortedException)
        {
            // The client went away, or the session was taken over, or the silo is stopping.
        }
        catch (Exception exception)
        {
            MqttLog.ConnectionFailed(_edge.Logger, exception, _clientId);
            Disconnect(MqttDisconnectReasonCode.UnspecifiedError);
        }
        finally
        {
            await CloseAsync(publishing, writing);
        }
    }

    /// <summary>Another connection took the session: this one ends without its will (MQTT 5: reason Session taken over).</summary>
    public Task TakenOver()
    {
        _takenOver = true;
        Disconnect(MqttDisconnectReasonCode.SessionTakenOver);
        _closing.Cancel();
        return Task.CompletedTask;
    }

    private async Task<bool> AcceptAsync(MqttConnectPacket connect)
    {
        _connect = connect;
        var clientId = connect.ClientId ?? "";
        string? assigned = null;
        if (clientId.Length == 0)
        {
            if (!connect.CleanSession && !V5)
            {
                return Refuse(MqttConnectReasonCode.ClientIdentifierNotValid, "an empty client id needs a clean session");
            }

            clientId = assigned = "auto-" + Guid.NewGuid().ToString("N");
        }

        if (clientId.Length > 256)
        {
            return Refuse(MqttConnectReasonCode.ClientIdentifierNotValid, "the client id is longer than 256 characters");
        }

        _clientId = clientId;
        if (!string.IsNullOrEmpty(connect.AuthenticationMethod))
        {
            return Refuse(MqttConnectReasonCode.BadAuthenticationMethod, $"authentication method '{connect.AuthenticationMethod}' is not served; use a user name and password or an API key");
        }

        var anonymous = string.IsNullOrEmpty(connect.Username) && connect.Password is null;
        if (await _edge.SignInAsync(connect, anonymous) is not { } principal)
        {
            return anonymous
                ? Refuse(MqttConnectReasonCode.NotAuthorized, "anonymous connects are not allowed")
                : Refuse(MqttConnectReasonCode.BadUserNameOrPassword, "bad user name or password");
        }

        _permissions = new MqttPermissions(principal.Access, _edge.Options.Topic);
        if (!Permissions.ReachTenant)
        {
            return Refuse(MqttConnectReasonCode.NotAuthorized, $"principal '{principal.Name}' has no permission in its tenant");
        }

        if (connect.WillFlag && ExplainWill(connect, principal.Name) is (var reason, var why))
        {
            return Refuse(reason, why);
        }

        var tenant = Permissions.Tenant;
        MqttSessionStart start;
        try
        {
            _topic = await _edge.TopicAsync(tenant);
            _session = _edge.Grains.GetGrain<IMqttSessionGrain>(MqttSessionGrain.Key(tenant, clientId));
            _self = _edge.Grains.CreateObjectReference<IMqttConnectionObserver>(this);
            _expiry = V5 ? connect.SessionExpiryInterval : connect.CleanSession ? 0 : uint.MaxValue;
            start = await _session.Connect(_topic, _consumerId, connect.CleanSession, _expiry, _self);
            if (start.PreviousConsumer is { } previous)
            {
                await MqttOutbound.GiveBackLeasesAsync(_edge, start.Queue, previous);
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The cluster could not serve the session now (a silo just failed, storage is away): the client tries again.
            MqttLog.ConnectionFailed(_edge.Logger, exception, clientId);
            return Refuse(MqttConnectReasonCode.ServerUnavailable, "the broker could not open the session now; connect again");
        }

        _inbound = new MqttInbound(_edge, _channel, V5, clientId, tenant, _topic, () => _closing.Cancel());
        var window = Math.Min(_edge.Options.MaxInflight, V5 && connect.ReceiveMaximum > 0 ? connect.ReceiveMaximum : int.MaxValue);
        var clientMaxPacket = V5 && connect.MaximumPacketSize > 0 ? (int)Math.Min(connect.MaximumPacketSize, int.MaxValue) : int.MaxValue;
        _outbound = new MqttOutbound(_edge, _channel, V5, clientId, _consumerId, start.Queue, window, clientMaxPacket, ConsumingFailedAsync)
        {
            Grants = start.Grants,
        };

        _subscriptions = new MqttSubscriptions(_edge, _channel, clientId, _consumerId, Permissions, _session, _outbound, _closing.Token);

        // Keep-alive: MQTT 5 clients are told the longest allowed when they ask for more or none.
        var keepAlive = TimeSpan.FromSeconds(connect.KeepAlivePeriod);
        ushort serverKeepAlive = 0;
        if (V5 && (keepAlive == TimeSpan.Zero || keepAlive > _edge.Options.MaxKeepAlive))
        {
            keepAlive = _edge.Options.MaxKeepAlive;
            serverKeepAlive = (ushort)keepAlive.TotalSeconds;
        }

        _keepAliveTimeout = keepAlive * 1.5;
        _channel.Send(new MqttConnAckPacket
        {
            ReturnCode = MqttConnectReturnCode.ConnectionAccepted,
            ReasonCode = MqttConnectReasonCode.Success,
            IsSessionPresent = start.Present && !connect.CleanSession,
            AssignedClientIdentifier = V5 ? assigned : null,
            ReceiveMaximum = MqttInbound.Window,
            MaximumPacketSize = (uint)_edge.MaxPacketBytes,
            MaximumQoS = MqttQualityOfServiceLevel.ExactlyOnce,
            RetainAvailable = true,
            WildcardSubscriptionAvailable = true,
            SubscriptionIdentifiersAvailable = false,
            SharedSubscriptionAvailable = false,
            TopicAliasMaximum = 0,
            ServerKeepAlive = serverKeepAlive,
        });
        MqttLog.Connected(_edge.Logger, clientId, principal.Name, tenant, _channel.Version, start.Present);
        if (start.Grants.Count > 0)
        {
            Outbound.Start(_closing.Token);
        }

        return true;
    }

    private (MqttConnectReasonCode Reason, string Why)? ExplainWill(MqttConnectPacket connect, string principal) =>
        MqttNames.ExplainTopicName(connect.WillTopic) is { } problem ? (MqttConnectReasonCode.TopicNameInvalid, $"will topic: {problem}")
        : !Permissions.MaySend(connect.WillTopic) ? (MqttConnectReasonCode.NotAuthorized, $"principal '{principal}' may not publish to will topic '{connect.WillTopic}'")
        : (connect.WillMessage?.Length ?? 0) > _edge.MaxMessageBytes ? (MqttConnectReasonCode.PacketTooLarge, "the will message is larger than Broker:MaxMessageBytes")
        : null;

    private bool Refuse(MqttConnectReasonCode reason, string why)
    {
        MqttLog.Refused(_edge.Logger, _clientId, _connect?.Username, why);
        _edge.Metrics.Refused(reason);
        _channel.Send(new MqttConnAckPacket
        {
            ReasonCode = reason,
            ReturnCode = reason switch
            {
                MqttConnectReasonCode.ClientIdentifierNotValid => MqttConnectReturnCode.ConnectionRefusedIdentifierRejected,
                MqttConnectReasonCode.BadUserNameOrPassword => MqttConnectReturnCode.ConnectionRefusedBadUsernameOrPassword,
                MqttConnectReasonCode.NotAuthorized or MqttConnectReasonCode.BadAuthenticationMethod => MqttConnectReturnCode.ConnectionRefusedNotAuthorized,
                _ => MqttConnectReturnCode.ConnectionRefusedServerUnavailable,
            },
            ReasonString = V5 ? why : null,
        });
        return false;
    }

    private async Task ReadLoopAsync()
    {
        using var reading = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token, _keepAlive.Token, _context.ConnectionClosed);
        while (true)
        {
            if (_keepAliveTimeout > TimeSpan.Zero)
            {
                _keepAlive.CancelAfter(_keepAliveTimeout);
            }

            var packet = await _channel.ReadAsync(reading.Token);
            switch (packet)
            {
                case null:
                    return;
                case MqttPublishPacket publish:
                    await OnPublishAsync(publish, reading.Token);
                    break;
                case MqttPubAckPacket ack:
                    Outbound.Acknowledged(ack.PacketIdentifier);
                    break;
                case MqttPubRelPacket release:
                    Inbound.Release(release.PacketIdentifier);
                    break;
                case MqttSubscribePacket subscribe:
                    await Subscriptions.SubscribeAsync(subscribe);
                    break;
                case MqttUnsubscribePacket unsubscribe:
                    await Subscriptions.UnsubscribeAsync(unsubscribe);
                    break;
                case MqttPingReqPacket:
                    _channel.Send(MqttPingRespPacket.Instance);
                    break;
                case MqttDisconnectPacket disconnect:
                    _sendWill = disconnect.ReasonCode == MqttDisconnectReasonCode.DisconnectWithWillMessage;
                    return;
                default:
                    throw new MqttProtocolViolationException($"A client may not send {packet.GetType().Name.Replace("Mqtt", "", StringComparison.Ordinal).Replace("Packet", "", StringComparison.Ordinal).ToUpperInvariant()} here.");
            }
        }
    }

    private async Task OnPublishAsync(MqttPublishPacket publish, CancellationToken cancellationToken)
    {
        if (publish.TopicAlias != 0)
        {
            throw new MqttProtocolViolationException("Topic aliases are not served (Topic Alias Maximum is 0).");
        }

        var qos = publish.QualityOfServiceLevel;
        if (qos == MqttQualityOfServiceLevel.ExactlyOnce && Inbound.AwaitsRelease(publish.PacketIdentifier))
        {
            // Sent again before its PUBREL: stored already.
            _channel.Send(new MqttPubRecPacket { PacketIdentifier = publish.PacketIdentifier });
            return;
        }

        if (MqttNames.ExplainTopicName(publish.Topic) is { } problem)
        {
            RefusePublish(publish, MqttPubAckReasonCode.TopicNameInvalid, problem);
            return;
        }

        if (!Permissions.MaySend(publish.Topic))
        {
            RefusePublish(publish, MqttPubAckReasonCode.NotAuthorized, $"not authorized to publish to '{publish.Topic}'");
            return;
        }

        if (publish.Payload.Length > _edge.MaxMessageBytes)
        {
            throw new MqttPacketTooLargeException(publish.Payload.Length, _edge.MaxMessageBytes);
        }

        var message = MqttMessages.ToMessage(_clientId, publish.Topic, publish.Payload.ToArray(), qos, publish.ContentType, publish.MessageExpiryInterval,
            publish.UserProperties, publish.ResponseTopic, publish.CorrelationData);
        try
        {
            MessageValidator.Validate(message, _edge.MaxMessageBytes);
        }
        catch (BrokerException exception)
        {
            RefusePublish(publish, MqttPubAckReasonCode.ImplementationSpecificError, exception.Message);
            return;
        }

        await Inbound.TakeAsync(new InboundPublish(publish.PacketIdentifier, qos, message, publish.Topic, publish.Retain), cancellationToken);
    }

    /// <summary>MQTT 5 answers a refused QoS 1 or 2 publish with a reason; MQTT 3.1.1 has none to give, so the connection ends.</summary>
    private void RefusePublish(MqttPublishPacket publish, MqttPubAckReasonCode reason, string why)
    {
        MqttLog.PublishRefused(_edge.Logger, _clientId, publish.Topic, why);
        if (!V5)
        {
            throw new MqttProtocolViolationException($"Publish refused: {why}.");
        }

        Inbound.Acknowledge(publish.PacketIdentifier, publish.QualityOfServiceLevel, reason, why);
    }

    /// <summary>The subscription queue could not be consumed: the client reconnects and resumes its session, here or elsewhere.</summary>
    private async Task ConsumingFailedAsync()
    {
        Disconnect(MqttDisconnectReasonCode.ServerBusy);
        await _closing.CancelAsync();
    }

    private void Disconnect(MqttDisconnectReasonCode reason)
    {
        if (V5)
        {
            _channel.Send(new MqttDisconnectPacket { ReasonCode = reason });
        }
    }

    private async Task CloseAsync(Task publishing, Task writing)
    {
        try
        {
            _inbound?.Complete();
            await publishing;
            if (_outbound is { } outbound)
            {
                await outbound.StopAsync();
                if (_sendWill && !_takenOver && _connect is { WillFlag: true } connect)
                {
                    await PublishWillAsync(connect);
                }

                if (!_takenOver)
                {
                    await _session!.Disconnect(_consumerId, _expiry);
                }

                _edge.Grains.DeleteObjectReference<IMqttConnectionObserver>(_self!);
                MqttLog.Disconnected(_edge.Logger, _clientId, _takenOver);
            }
        }
        catch (Exception exception)
        {
            MqttLog.ConnectionFailed(_edge.Logger, exception, _clientId);
        }
        finally
        {
            _channel.Complete();
            try
            {
                await writing.WaitAsync(CloseTimeout);
            }
            catch (Exception)
            {
                // The client stopped reading, or the connection is gone.
            }

            _keepAlive.Dispose();
            _edge.Metrics.Closed();
        }
    }

    private async Task PublishWillAsync(MqttConnectPacket connect)
    {
        var message = MqttMessages.ToMessage(_clientId, connect.WillTopic, connect.WillMessage ?? [], connect.WillQoS, connect.WillContentType, connect.WillMessageExpiryInterval,
            connect.WillUserProperties, connect.WillResponseTopic, connect.WillCorrelationData);
        try
        {
            await _edge.Client.PublishToTopicAsync(_topic, message);
            if (connect.WillRetain)
            {
                await Inbound.RetainAsync(connect.WillTopic, message, connect.WillQoS);
            }
        }
        catch (Exception exception)
        {
            MqttLog.PublishFailed(_edge.Logger, exception, _clientId, 1);
        }
    }
}
