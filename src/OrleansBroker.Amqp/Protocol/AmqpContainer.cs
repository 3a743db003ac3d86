using System.Security.Cryptography.X509Certificates;
using System.Threading.Channels;
using Amqp;
using Amqp.Framing;
using Amqp.Listener;
using Amqp.Types;
using OrleansBroker.Errors;
using OrleansBroker.Identity;
using ErrorCode = Amqp.ErrorCode;

namespace OrleansBroker.Amqp.Protocol;

/// <summary>
/// The broker as AMQP.Net Lite's container: connections arrive signed in (<see cref="Accept"/>), and each link's attach is
/// checked against its address and the connection's principal before it is answered: a link a client sends on becomes an
/// <see cref="AmqpInbound"/>, one it receives on an <see cref="AmqpOutbound"/>; a refused attach is answered with an error
/// condition (amqp:not-found, amqp:unauthorized-access, amqp:invalid-field, amqp:not-allowed, amqp:not-implemented).
/// </summary>
internal sealed class AmqpContainer : IContainer
{
    /// <summary>The address scheme under which <see cref="Accept"/>ed connections reach the library's listener.</summary>
    public const string Scheme = "obroker";

    private readonly AmqpEdge _edge;
    private readonly Accepted _accepted = new();

    public AmqpContainer(AmqpEdge edge)
    {
        _edge = edge;
        CustomTransports = new Dictionary<string, TransportProvider> { [Scheme] = _accepted };
    }

    public X509Certificate2 ServiceCertificate => throw new InvalidOperationException("TLS is served by Kestrel, before AMQP.Net Lite.");

    public IDictionary<string, TransportProvider> CustomTransports { get; }

    /// <summary>Hands a signed-in connection to the library, which opens it and serves its sessions and links.</summary>
    public void Accept(AmqpPipeTransport transport) => _accepted.Add(transport);

    public Message CreateMessage(ByteBuffer buffer) => Message.Decode(buffer);

    public Link CreateLink(ListenerConnection connection, ListenerSession session, Attach attach) => new ListenerLink(session, attach);

    public bool AttachLink(ListenerConnection connection, ListenerSession session, Link link, Attach attach)
    {
        _ = AttachAsync((ListenerLink)link, attach, ((AmqpPrincipal)connection.Principal).Info);
        return false;
    }

    private async Task AttachAsync(ListenerLink link, Attach attach, PrincipalInfo principal)
    {
        // The link is a receiver when the client sends on it.
        var sending = link.Role;
        var rawAddress = sending ? (attach.Target as Target)?.Address : (attach.Source as Source)?.Address;
        try
        {
            var (address, node) = await ResolveAsync(sending, attach, principal);
            if (sending)
            {
                attach.MaxMessageSize = _edge.MaxEncodedMessageBytes;
                new AmqpInbound(_edge, link, address, node, principal.Name).Start();
            }
            else
            {
                new AmqpOutbound(_edge, link, address, node, principal.Name).Start();
            }

            link.CompleteAttach(attach, null);
            AmqpLog.Attached(_edge.Logger, attach.LinkName, principal.Name, address.ToString(), sending ? "sender" : "receiver");
        }
        catch (Exception exception)
        {
            var (condition, reason) = exception switch
            {
                AttachRefusedException refused => (refused.Condition, refused.Message),
                BrokerException broker => (AmqpErrors.Condition(broker), broker.Message),
                _ => (ErrorCode.InternalError, "the broker could not attach the link now; attach again"),
            };
            AmqpLog.AttachRefused(_edge.Logger, attach.LinkName, principal.Name, rawAddress, condition, reason);
            _edge.Metrics.Refused(condition);
            try
            {
                link.CompleteAttach(attach, new Error(new Symbol(condition)) { Description = reason });
            }
            catch (Exception closed) when (closed is AmqpException or ObjectDisposedException or InvalidOperationException)
            {
                // The client detached or went away meanwhile.
            }
        }
    }

    /// <summary>The address the link names, checked: the principal may use it, and it exists. Throws <see cref="AttachRefusedException"/>.</summary>
    private async Task<(AmqpAddress Address, string Node)> ResolveAsync(bool sending, Attach attach, PrincipalInfo principal)
    {
        var terminus = sending ? attach.Target : attach.Source;
        if (terminus is not (Target or Source))
        {
            throw new AttachRefusedException(ErrorCode.NotImplemented, "transactions (a coordinator target) are not served");
        }

        if (terminus is Target { Dynamic: true } or Source { Dynamic: true })
        {
            throw new AttachRefusedException(ErrorCode.NotImplemented, "dynamic nodes are not served; name a queue, a topic or a subscription");
        }

        var rawAddress = sending ? ((Target)terminus).Address : ((Source)terminus).Address;
        if (AmqpAddress.Parse(rawAddress, out var problem) is not { } address)
        {
            throw new AttachRefusedException(ErrorCode.InvalidField, problem!);
        }

        if (sending && address.Kind == AmqpNodeKind.Subscription)
        {
            throw new AttachRefusedException(ErrorCode.NotAllowed, $"{address} is received from; send to its topic, /topics/{Uri.EscapeDataString(address.Name)}");
        }

        if (!sending && address.Kind == AmqpNodeKind.Topic)
        {
            throw new AttachRefusedException(ErrorCode.NotAllowed, $"a topic is received from through a subscription: {address}/subscriptions/{{name}}");
        }

        var tenant = principal.Access.Tenant;
        var operation = sending ? Operation.Send : Operation.Receive;
        if (!principal.Access.Allows(tenant, operation, address.PermissionName))
        {
            throw new AttachRefusedException(ErrorCode.UnauthorizedAccess,
                $"principal '{principal.Name}' may not {(sending ? "send to" : "receive from")} '{address.PermissionName}' in tenant '{tenant}'");
        }

        var node = address.Qualified(tenant);
        try
        {
            if (address.Kind == AmqpNodeKind.Topic)
            {
                await _edge.Admin.GetTopicInfoAsync(node);
            }
            else
            {
                await _edge.Admin.GetQueueInfoAsync(node);
            }
        }
        catch (BrokerException exception) when (exception.Code is BrokerErrorCode.QueueNotFound or BrokerErrorCode.TopicNotFound or BrokerErrorCode.InvalidName)
        {
            throw new AttachRefusedException(exception.Code == BrokerErrorCode.InvalidName ? ErrorCode.InvalidField : ErrorCode.NotFound,
                exception.Code == BrokerErrorCode.InvalidName ? exception.Message : $"{address} does not exist in tenant '{tenant}'");
        }

        return (address, node);
    }

    /// <summary>An attach the broker answers with <see cref="Condition"/>.</summary>
    private sealed class AttachRefusedException(string condition, string message) : Exception(message)
    {
        public string Condition { get; } = condition;
    }

    /// <summary>Connections signed in by the Kestrel side, taken one by one by the library's listener.</summary>
    private sealed class Accepted : TransportProvider
    {
        private readonly Channel<IAsyncTransport> _transports = Channel.CreateUnbounded<IAsyncTransport>();

        public Accepted() => AddressSchemes = [Scheme];

        public void Add(IAsyncTransport transport)
        {
            if (!_transports.Writer.TryWrite(transport))
            {
                transport.Close();
            }
        }

        public override async Task<IAsyncTransport> CreateAsync(Address address)
        {
            try
            {
                return await _transports.Reader.ReadAsync();
            }
            catch (ChannelClosedException)
            {
                // The listener is closed. Its accept loop has no way to end, so it is left waiting here for good.
                await new TaskCompletionSource().Task;
                throw;
            }
        }

        public override void Dispose() => _transports.Writer.TryComplete();
    }
}
