using System.Buffers;
using System.Collections.Concurrent;
using System.Text;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using MQTTnet.Exceptions;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Identity;
using OrleansBroker.Messages;
using OrleansBroker.Mqtt.Sessions;
using OrleansBroker.Queues;

namespace OrleansBroker.Mqtt.Protocol;

/// <summary>
/// One MQTT client connection: CONNECT with the broker's principals, publishes coalesced into topic batches and
/// acknowledged once durable, a session's subscription queue delivered in order within the client's window, retained
/// messages, last will, keep-alive. Its session lives in a grain, so any silo can serve the client after a reconnect.
/// </summary>
internal sealed partial class MqttConnection : IMqttConnectionObserver
{
    /// <summary>Longest wait for CONNECT after the socket opens.</summary>
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Longest wait for the last packets to be written when the connection ends.</summary>
    private static readonly TimeSpan CloseTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Most publishes stored with one topic call.</summary>
    private const int MaxPublishBatch = 500;

    /// <summary>QoS 1 and 2 publishes a client may have unacknowledged (MQTT 5 Receive Maximum); reading pauses past it.</summary>
    internal const int InboundWindow = 1000;

    private readonly MqttEdge _edge;
    private readonly ConnectionContext _context;
    private readonly MqttPacketChannel _channel;
    private readonly string _consumerId = "mqtt-" + Guid.NewGuid().ToString("N");
    private readonly CancellationTokenSource _closing = new();
    private readonly CancellationTokenSource _keepAlive = new();
    private readonly Channel<InboundPublish> _inbound = Channel.CreateBounded<InboundPublish>(new BoundedChannelOptions(InboundWindow) { SingleReader = true, SingleWriter = true });
    private readonly ConcurrentDictionary<ushort, Delivery?> _outstanding = new();
    private readonly ConcurrentDictionary<ushort, byte> _exactlyOnce = new();
    private readonly Dictionary<string, bool> _sendAllowed = new(StringComparer.Ordinal);
    private readonly Lock _packetIds = new();
    private ushort _lastPacketId;

    private string _clientId = "";
    private string _tenant = "";
    private string _topic = "";
    private string? _queue;
    private PrincipalAccess _access = new("", []);
    private IMqttSessionGrain? _session;
    private IMqttConnectionObserver? _self;
    private MqttConnectPacket? _connect;
    private uint _expiry;
    private volatile IReadOnlyList<MqttGrant> _grants = [];
    private CancellationTokenSource? _deliveryStop;
    private Task? _delivering;
    private int _clientMaxPacket = int.MaxValue;
    private bool _sendWill = true;
    private volatile bool _takenOver;

    public MqttConnection(MqttEdge edge, ConnectionContext context)
    {
        _edge = edge;
        _context = context;
        _channel = new MqttPacketChannel(context.Transport, edge.MaxPacketBytes);
    }

    private bool V5 => _channel.Version == MqttProtocolVersion.V500;

    private string TopicName => _edge.Options.Topic;

    private sealed record InboundPublish(ushort PacketId, MqttQualityOfServiceLevel QoS, BrokerMessage Message, string Topic, bool Retain);

    public async Task RunAsync()
    {
        Interlocked.Increment(ref _edge.Connections);
        var writing = _channel.WriteLoopAsync(_context.ConnectionClosed);
        var publishing = Task.CompletedTask;
        var accepted = false;
        try
        {
            MqttPacket? first;
            using (var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token, _context.ConnectionClosed))
            {
                connectTimeout.CancelAfter(ConnectTimeout);
                first = await _channel.ReadAsync(connectTimeout.Token);
            }

            if (first is not MqttConnectPacket connect)
            {
                return;
            }

            accepted = await AcceptAsync(connect);
            if (!accepted)
            {
                return;
            }

            publishing = PublishLoopAsync();
            await ReadLoopAsync();
        }
        catch (MqttPacketTooLargeException exception)
        {
            LogRefusedPacket(_edge.Logger, _clientId, exception.Message);
            Disconnect(MqttDisconnectReasonCode.PacketTooLarge);
        }
        catch (MqttProtocolViolationException exception)
        {
            LogRefusedPacket(_edge.Logger, _clientId, exception.Message);
            Disconnect(MqttDisconnectReasonCode.ProtocolError);
        }
        catch (OperationCanceledException) when (_keepAlive.IsCancellationRequested)
        {
            LogKeepAliveExpired(_edge.Logger, _clientId);
            Disconnect(MqttDisconnectReasonCode.KeepAliveTimeout);
        }
        catch (Exception exception) when (exception is OperationCanceledException or ConnectionResetException or IOException or ConnectionAbortedException)
        {
            // The client went away, or the session was taken over, or the silo is stopping.
        }
        catch (Exception exception)
        {
            LogConnectionFailed(_edge.Logger, exception, _clientId);
            Disconnect(MqttDisconnectReasonCode.UnspecifiedError);
        }
        finally
        {
            await CloseAsync(accepted, publishing, writing);
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

        var principal = await AuthenticateAsync(connect);
        if (principal is null)
        {
            return Refuse(string.IsNullOrEmpty(connect.Username) && connect.Password is null ? MqttConnectReasonCode.NotAuthorized : MqttConnectReasonCode.BadUserNameOrPassword,
                string.IsNullOrEmpty(connect.Username) && connect.Password is null ? "anonymous connects are not allowed" : "bad user name or password");
        }

        _access = principal.Access;
        _tenant = _access.Tenant;
        if (!_access.Reaches(_tenant))
        {
            return Refuse(MqttConnectReasonCode.NotAuthorized, $"principal '{principal.Name}' has no permission in its tenant");
        }

        if (connect.WillFlag)
        {
            if (MqttNames.ExplainTopicName(connect.WillTopic) is { } problem)
            {
                return Refuse(MqttConnectReasonCode.TopicNameInvalid, $"will topic: {problem}");
            }

            if (!MaySend(connect.WillTopic))
            {
                return Refuse(MqttConnectReasonCode.NotAuthorized, $"principal '{principal.Name}' may not publish to will topic '{connect.WillTopic}'");
            }

            if ((connect.WillMessage?.Length ?? 0) > _edge.MaxMessageBytes)
            {
                return Refuse(MqttConnectReasonCode.PacketTooLarge, "the will message is larger than Broker:MaxMessageBytes");
            }
        }

        if (V5 && connect.MaximumPacketSize > 0)
        {
            _clientMaxPacket = (int)Math.Min(connect.MaximumPacketSize, int.MaxValue);
        }

        _topic = await _edge.TopicAsync(_tenant);
        _session = _edge.Grains.GetGrain<IMqttSessionGrain>(MqttSessionGrain.Key(_tenant, clientId));
        _self = _edge.Grains.CreateObjectReference<IMqttConnectionObserver>(this);
        _expiry = V5 ? connect.SessionExpiryInterval : connect.CleanSession ? 0 : uint.MaxValue;
        var start = await _session.Connect(_topic, _consumerId, connect.CleanSession, _expiry, _self);
        _grants = start.Grants;
        _queue = start.Queue;
        if (start.PreviousConsumer is { } previous)
        {
            await GiveBackLeasesAsync(start.Queue, previous);
        }

        // Keep-alive: MQTT 5 clients are told the longest allowed when they ask for more or none.
        var keepAlive = TimeSpan.FromSeconds(connect.KeepAlivePeriod);
        ushort? serverKeepAlive = null;
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
            ReceiveMaximum = InboundWindow,
            MaximumPacketSize = (uint)_edge.MaxPacketBytes,
            MaximumQoS = MqttQualityOfServiceLevel.ExactlyOnce,
            RetainAvailable = true,
            WildcardSubscriptionAvailable = true,
            SubscriptionIdentifiersAvailable = false,
            SharedSubscriptionAvailable = false,
            TopicAliasMaximum = 0,
            ServerKeepAlive = serverKeepAlive ?? 0,
        });
        LogConnected(_edge.Logger, clientId, principal.Name, _tenant, _channel.Version, start.Present);
        if (_grants.Count > 0)
        {
            StartDelivering();
        }

        return true;
    }

    private TimeSpan _keepAliveTimeout;

    private async Task<PrincipalInfo?> AuthenticateAsync(MqttConnectPacket connect)
    {
        var password = connect.Password is null ? null : Encoding.UTF8.GetString(connect.Password);
        if (string.IsNullOrEmpty(connect.Username) && password is null)
        {
            return _edge.Options.AnonymousPrincipal is { } anonymous ? await _edge.Identities.FindAsync(anonymous) : null;
        }

        if (password is null)
        {
            return null;
        }

        return password.StartsWith("obk.", StringComparison.Ordinal)
            ? await _edge.Identities.SignInWithKeyAsync(password)
            : await _edge.Identities.SignInAsync(connect.Username ?? "", password);
    }

    private bool Refuse(MqttConnectReasonCode reason, string why)
    {
        LogRefused(_edge.Logger, _clientId, _connect?.Username, why);
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
                    OnAcknowledged(ack.PacketIdentifier);
                    break;
                case MqttPubRelPacket release:
                    _exactlyOnce.TryRemove(release.PacketIdentifier, out _);
                    _channel.Send(new MqttPubCompPacket { PacketIdentifier = release.PacketIdentifier });
                    break;
                case MqttSubscribePacket subscribe:
                    await OnSubscribeAsync(subscribe);
                    break;
                case MqttUnsubscribePacket unsubscribe:
                    await OnUnsubscribeAsync(unsubscribe);
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
        if (qos == MqttQualityOfServiceLevel.ExactlyOnce && _exactlyOnce.ContainsKey(publish.PacketIdentifier))
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

        if (!MaySend(publish.Topic))
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

        await _inbound.Writer.WriteAsync(new InboundPublish(publish.PacketIdentifier, qos, message, publish.Topic, publish.Retain), cancellationToken);
    }

    /// <summary>MQTT 5 answers a refused QoS 1 or 2 publish with a reason; MQTT 3.1.1 has none to give, so the connection ends.</summary>
    private void RefusePublish(MqttPublishPacket publish, MqttPubAckReasonCode reason, string why)
    {
        LogPublishRefused(_edge.Logger, _clientId, publish.Topic, why);
        if (!V5)
        {
            throw new MqttProtocolViolationException($"Publish refused: {why}.");
        }

        Acknowledge(publish.PacketIdentifier, publish.QualityOfServiceLevel, reason, why);
    }

    private void Acknowledge(ushort packetId, MqttQualityOfServiceLevel qos, MqttPubAckReasonCode reason, string? why = null)
    {
        switch (qos)
        {
            case MqttQualityOfServiceLevel.AtLeastOnce:
                _channel.Send(new MqttPubAckPacket { PacketIdentifier = packetId, ReasonCode = reason, ReasonString = V5 ? why : null });
                break;
            case MqttQualityOfServiceLevel.ExactlyOnce:
                if (reason == MqttPubAckReasonCode.Success)
                {
                    _exactlyOnce.TryAdd(packetId, 0);
                }

                _channel.Send(new MqttPubRecPacket { PacketIdentifier = packetId, ReasonCode = (MqttPubRecReasonCode)(int)reason, ReasonString = V5 ? why : null });
                break;
        }
    }

    private bool MaySend(string topic)
    {
        lock (_sendAllowed)
        {
            if (!_sendAllowed.TryGetValue(topic, out var allowed))
            {
                if (_sendAllowed.Count >= 1000)
                {
                    _sendAllowed.Clear();
                }

                allowed = _sendAllowed[topic] = _access.Allows(_tenant, Operation.Send, MqttNames.PermissionName(TopicName, topic));
            }

            return allowed;
        }
    }

    /// <summary>Stores what the read loop took, a batch per topic call while the previous one is stored, and acknowledges it in order.</summary>
    private async Task PublishLoopAsync()
    {
        var reader = _inbound.Reader;
        var batch = new List<InboundPublish>();
        while (await reader.WaitToReadAsync())
        {
            batch.Clear();
            while (batch.Count < MaxPublishBatch && reader.TryRead(out var item))
            {
                batch.Add(item);
            }

            try
            {
                await _edge.Client.PublishBatchToTopicAsync(_topic, [.. batch.Select(b => b.Message)]);
            }
            catch (Exception exception)
            {
                LogPublishFailed(_edge.Logger, exception, _clientId, batch.Count);
                var reason = exception is BrokerException { Code: BrokerErrorCode.StorageFull or BrokerErrorCode.QueueFull or BrokerErrorCode.RateLimited } ? MqttPubAckReasonCode.QuotaExceeded : MqttPubAckReasonCode.UnspecifiedError;
                if (!V5)
                {
                    // Nothing to say to MQTT 3.1.1 but to close: its client sends what was not acknowledged again.
                    _closing.Cancel();
                    continue;
                }

                foreach (var item in batch)
                {
                    Acknowledge(item.PacketId, item.QoS, reason, exception is BrokerException broker ? broker.Message : "the broker could not store the message");
                }

                continue;
            }

            foreach (var item in batch)
            {
                var reason = MqttPubAckReasonCode.Success;
                if (item.Retain && !await RetainAsync(item.Topic, item.Message, item.QoS))
                {
                    reason = MqttPubAckReasonCode.QuotaExceeded;
                }

                Acknowledge(item.PacketId, item.QoS, V5 ? reason : MqttPubAckReasonCode.Success, reason == MqttPubAckReasonCode.Success ? null : "published, but not retained: the tenant's retained messages are at their limit");
            }
        }
    }

    private async Task<bool> RetainAsync(string topic, BrokerMessage message, MqttQualityOfServiceLevel qos)
    {
        var retained = new MqttRetainedMessage(topic, message.Body, (byte)qos, message.ContentType, message.Headers,
            message.TimeToLive is { } ttl ? _edge.Time.GetUtcNow() + ttl : null);
        try
        {
            var stored = await _edge.Grains.GetGrain<IMqttRetainedGrain>(IMqttRetainedGrain.Key(_tenant)).Set(retained, _edge.Options.MaxRetainedMessages, _edge.Options.MaxRetainedBytes);
            if (!stored)
            {
                LogRetainedFull(_edge.Logger, _tenant, topic, _edge.Options.MaxRetainedMessages, _edge.Options.MaxRetainedBytes);
            }

            return stored;
        }
        catch (Exception exception)
        {
            LogPublishFailed(_edge.Logger, exception, _clientId, 1);
            return false;
        }
    }

    private async Task OnSubscribeAsync(MqttSubscribePacket subscribe)
    {
        var codes = new List<MqttSubscribeReasonCode>(subscribe.TopicFilters.Count);
        var granted = new List<(MqttGrant Grant, MqttTopicFilter Asked, bool New)>();
        var count = _grants.Count;
        foreach (var filter in subscribe.TopicFilters)
        {
            var isNew = !_grants.Any(g => g.Filter == filter.Topic) && !granted.Any(g => g.Grant.Filter == filter.Topic);
            if (MqttNames.ExplainFilter(filter.Topic) is { } problem)
            {
                LogSubscribeRefused(_edge.Logger, _clientId, filter.Topic, problem);
                codes.Add(filter.Topic?.StartsWith("$share/", StringComparison.Ordinal) == true ? MqttSubscribeReasonCode.SharedSubscriptionsNotSupported : MqttSubscribeReasonCode.TopicFilterInvalid);
            }
            else if (!_access.Allows(_tenant, Operation.Receive, MqttNames.PermissionName(TopicName, filter.Topic!)))
            {
                LogSubscribeRefused(_edge.Logger, _clientId, filter.Topic, "not authorized");
                codes.Add(MqttSubscribeReasonCode.NotAuthorized);
            }
            else if (isNew && count >= _edge.Options.MaxSubscriptionsPerSession)
            {
                LogSubscribeRefused(_edge.Logger, _clientId, filter.Topic, $"the session has {count} subscriptions, the most allowed (Broker:Mqtt:MaxSubscriptionsPerSession)");
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
                _grants = await _session!.Subscribe(_consumerId, [.. granted.Select(g => g.Grant)]);
            }
            catch (BrokerException exception) when (exception.Code == BrokerErrorCode.LeaseLost)
            {
                throw new OperationCanceledException(exception.Message, exception);
            }
            catch (Exception exception)
            {
                LogConnectionFailed(_edge.Logger, exception, _clientId);
                for (var i = 0; i < codes.Count; i++)
                {
                    codes[i] = codes[i] is MqttSubscribeReasonCode.GrantedQoS0 or MqttSubscribeReasonCode.GrantedQoS1 ? MqttSubscribeReasonCode.UnspecifiedError : codes[i];
                }

                granted.Clear();
            }
        }

        _channel.Send(new MqttSubAckPacket { PacketIdentifier = subscribe.PacketIdentifier, ReasonCodes = codes });
        if (granted.Count == 0)
        {
            return;
        }

        if (_delivering is null)
        {
            StartDelivering();
        }

        foreach (var (grant, asked, isNew) in granted)
        {
            if (asked.RetainHandling == MqttRetainHandling.DoNotSendOnSubscribe
                || asked.RetainHandling == MqttRetainHandling.SendAtSubscribeIfNewSubscriptionOnly && !isNew)
            {
                continue;
            }

            foreach (var retained in await _edge.Grains.GetGrain<IMqttRetainedGrain>(IMqttRetainedGrain.Key(_tenant)).Match(grant.Filter))
            {
                var qos = (MqttQualityOfServiceLevel)Math.Min(retained.QoS, grant.QoS);
                var packet = MqttMessages.ToPacket(V5, retained.Topic, retained.Payload, qos, retained.ContentType, retained.Headers, retain: true, dup: false);
                if (qos != MqttQualityOfServiceLevel.AtMostOnce)
                {
                    packet.PacketIdentifier = NextPacketId(null);
                }

                _channel.Send(packet);
            }
        }
    }

    private async Task OnUnsubscribeAsync(MqttUnsubscribePacket unsubscribe)
    {
        var before = _grants;
        var codes = unsubscribe.TopicFilters
            .Select(f => before.Any(g => g.Filter == f) ? MqttUnsubscribeReasonCode.Success : MqttUnsubscribeReasonCode.NoSubscriptionExisted)
            .ToList();
        if (before.All(g => unsubscribe.TopicFilters.Contains(g.Filter)))
        {
            // The last filter goes with the subscription queue: stop taking from it first.
            await StopDeliveringAsync();
        }

        try
        {
            _grants = await _session!.Unsubscribe(_consumerId, unsubscribe.TopicFilters);
        }
        catch (BrokerException exception) when (exception.Code == BrokerErrorCode.LeaseLost)
        {
            throw new OperationCanceledException(exception.Message, exception);
        }
        catch (Exception exception)
        {
            LogConnectionFailed(_edge.Logger, exception, _clientId);
            codes = [.. codes.Select(c => c == MqttUnsubscribeReasonCode.Success ? MqttUnsubscribeReasonCode.UnspecifiedError : c)];
        }

        _channel.Send(new MqttUnsubAckPacket { PacketIdentifier = unsubscribe.PacketIdentifier, ReasonCodes = codes });
        if (_grants.Count > 0 && _delivering is null)
        {
            StartDelivering();
        }
    }

    private void StartDelivering()
    {
        _deliveryStop = CancellationTokenSource.CreateLinkedTokenSource(_closing.Token);
        var window = Math.Min(_edge.Options.MaxInflight, V5 && _connect!.ReceiveMaximum > 0 ? _connect.ReceiveMaximum : int.MaxValue);
        _delivering = DeliverAsync(_queue!, window, _deliveryStop.Token);
    }

    private async Task StopDeliveringAsync()
    {
        if (_delivering is { } delivering)
        {
            await _deliveryStop!.CancelAsync();
            await delivering;
            _delivering = null;
            _deliveryStop.Dispose();
            _deliveryStop = null;
        }
    }

    /// <summary>Takes the session's queue in order; QoS 0 is settled when written, QoS 1 when the client acknowledges it.</summary>
    private async Task DeliverAsync(string queue, int window, CancellationToken cancellationToken)
    {
        await Task.Yield();
        try
        {
            var options = new ConsumerOptions { Prefetch = window, ConsumerId = _consumerId };
            await foreach (var delivery in _edge.Client.ReadAllAsync(queue, options, cancellationToken))
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
            LogConnectionFailed(_edge.Logger, exception, _clientId);
            Disconnect(MqttDisconnectReasonCode.ServerBusy);
            await _closing.CancelAsync();
        }
    }

    private void Deliver(Delivery delivery)
    {
        var topic = MqttNames.ToTopicName(delivery.RoutingKey, TopicName);
        var publisher = delivery.Headers?.GetValueOrDefault(MqttMessages.ClientHeader);
        var qos = -1;
        foreach (var grant in _grants)
        {
            if (grant.QoS > qos && !(grant.NoLocal && publisher == _clientId) && MqttNames.Matches(grant.Filter, topic))
            {
                qos = grant.QoS;
            }
        }

        if (qos < 0 || delivery.Body.Length + topic.Length + 64 > _clientMaxPacket)
        {
            // No filter takes it any more (unsubscribed meanwhile), or the client said it cannot take one this large.
            Settle(delivery);
            return;
        }

        if (delivery.Headers?.GetValueOrDefault(MqttMessages.QosHeader) == "0")
        {
            qos = 0;
        }

        var packet = MqttMessages.ToPacket(V5, topic, delivery.Body, (MqttQualityOfServiceLevel)qos, delivery.ContentType, delivery.Headers, retain: false, dup: qos > 0 && delivery.Attempt > 1);
        if (qos == 0)
        {
            _channel.Send(packet);
            Settle(delivery);
            return;
        }

        packet.PacketIdentifier = NextPacketId(delivery);
        _channel.Send(packet);
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

    private void OnAcknowledged(ushort packetId)
    {
        if (_outstanding.TryRemove(packetId, out var delivery) && delivery is not null)
        {
            Settle(delivery);
        }
    }

    private void Settle(Delivery delivery) => _ = SettleAsync(delivery);

    private async Task SettleAsync(Delivery delivery)
    {
        try
        {
            await _edge.Client.CompleteAsync(delivery);
        }
        catch (Exception exception)
        {
            // Its lease was given back meanwhile (a reconnect): the message comes again, marked DUP.
            LogSettleFailed(_edge.Logger, exception, _clientId, delivery.MessageId);
        }
    }

    private void Disconnect(MqttDisconnectReasonCode reason)
    {
        if (V5)
        {
            _channel.Send(new MqttDisconnectPacket { ReasonCode = reason });
        }
    }

    private async Task GiveBackLeasesAsync(string queue, string consumer)
    {
        try
        {
            await _edge.Grains.GetGrain<IQueueGrain>(queue).Unsubscribe(consumer);
        }
        catch (BrokerException exception) when (exception.Code == BrokerErrorCode.QueueNotFound)
        {
            // The session has no subscription yet.
        }
    }

    private async Task CloseAsync(bool accepted, Task publishing, Task writing)
    {
        try
        {
            _inbound.Writer.TryComplete();
            await publishing;
            if (accepted)
            {
                await StopDeliveringAsync();
                if (_sendWill && !_takenOver && _connect is { WillFlag: true } connect)
                {
                    await PublishWillAsync(connect);
                }

                if (!_takenOver)
                {
                    await _session!.Disconnect(_consumerId, _expiry);
                }

                if (_self is not null)
                {
                    _edge.Grains.DeleteObjectReference<IMqttConnectionObserver>(_self);
                }

                LogDisconnected(_edge.Logger, _clientId, _takenOver);
            }
        }
        catch (Exception exception)
        {
            LogConnectionFailed(_edge.Logger, exception, _clientId);
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
            Interlocked.Decrement(ref _edge.Connections);
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
                await RetainAsync(connect.WillTopic, message, connect.WillQoS);
            }
        }
        catch (Exception exception)
        {
            LogPublishFailed(_edge.Logger, exception, _clientId, 1);
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "MQTT client {ClientId} connected as {Principal} in tenant '{Tenant}' ({Version}, session present {Present})")]
    private static partial void LogConnected(ILogger logger, string clientId, string principal, string tenant, MqttProtocolVersion version, bool present);

    [LoggerMessage(Level = LogLevel.Debug, Message = "MQTT client {ClientId} disconnected (session taken over: {TakenOver})")]
    private static partial void LogDisconnected(ILogger logger, string clientId, bool takenOver);

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT connect of client '{ClientId}' (user '{User}') refused: {Reason}")]
    private static partial void LogRefused(ILogger logger, string clientId, string? user, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT client '{ClientId}' disconnected: {Reason}")]
    private static partial void LogRefusedPacket(ILogger logger, string clientId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT client '{ClientId}' disconnected: no packet within 1.5 keep-alive periods")]
    private static partial void LogKeepAliveExpired(ILogger logger, string clientId);

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT client '{ClientId}': publish to '{Topic}' refused: {Reason}")]
    private static partial void LogPublishRefused(ILogger logger, string clientId, string topic, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT client '{ClientId}': subscribe to '{Filter}' refused: {Reason}")]
    private static partial void LogSubscribeRefused(ILogger logger, string clientId, string? filter, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT client '{ClientId}': {Count} publishes could not be stored; none was acknowledged")]
    private static partial void LogPublishFailed(ILogger logger, Exception exception, string clientId, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Retained messages of tenant '{Tenant}' are at their limit ({Messages} messages, {Bytes} bytes): '{Topic}' was published but not retained")]
    private static partial void LogRetainedFull(ILogger logger, string tenant, string topic, int messages, long bytes);

    [LoggerMessage(Level = LogLevel.Debug, Message = "MQTT client '{ClientId}': settling message {MessageId} failed; it will be delivered again")]
    private static partial void LogSettleFailed(ILogger logger, Exception exception, string clientId, string messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT client '{ClientId}': the connection ended on an error")]
    private static partial void LogConnectionFailed(ILogger logger, Exception exception, string clientId);
}
