using System.Diagnostics.Metrics;
using Amqp.Framing;

namespace OrleansBroker.Amqp.Protocol;

/// <summary>
/// The AMQP listener's instruments on the broker's meter (<see cref="BrokerTelemetry.MeterName"/>): open connections,
/// messages taken from clients and sent to them, clients' outcomes, refused connections and links by reason. Per silo.
/// </summary>
internal sealed class AmqpMetrics
{
    private static readonly KeyValuePair<string, object?>[] AcceptedOutcome = [new("outcome", "accepted")];
    private static readonly KeyValuePair<string, object?>[] ReleasedOutcome = [new("outcome", "released")];
    private static readonly KeyValuePair<string, object?>[] ModifiedOutcome = [new("outcome", "modified")];
    private static readonly KeyValuePair<string, object?>[] RejectedOutcome = [new("outcome", "rejected")];

    private readonly Counter<long> _received;
    private readonly Counter<long> _sent;
    private readonly Counter<long> _settled;
    private readonly Counter<long> _refused;
    private int _connections;

    public AmqpMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(BrokerTelemetry.MeterName);
        meter.CreateObservableUpDownCounter("obroker.amqp.connections", () => Volatile.Read(ref _connections), "{connection}", "AMQP connections open on this silo (signed in).");
        _received = meter.CreateCounter<long>("obroker.amqp.messages.received", "{message}", "Messages from AMQP clients stored (and settled).");
        _sent = meter.CreateCounter<long>("obroker.amqp.messages.sent", "{message}", "Messages sent to AMQP clients (redeliveries included).");
        _settled = meter.CreateCounter<long>("obroker.amqp.messages.settled", "{message}", "Deliveries AMQP clients settled, by outcome (accepted, released, modified, rejected).");
        _refused = meter.CreateCounter<long>("obroker.amqp.refused", "{refusal}", "Connections refused at SASL and links refused at attach, by reason (the AMQP error condition, or sasl).");
    }

    public void Opened() => Interlocked.Increment(ref _connections);

    public void Closed() => Interlocked.Decrement(ref _connections);

    public void Received(int count)
    {
        if (_received.Enabled)
        {
            _received.Add(count);
        }
    }

    public void Sent()
    {
        if (_sent.Enabled)
        {
            _sent.Add(1);
        }
    }

    public void Settled(DeliveryState? state)
    {
        if (_settled.Enabled)
        {
            _settled.Add(1, state switch
            {
                Accepted => AcceptedOutcome,
                Rejected => RejectedOutcome,
                Modified => ModifiedOutcome,
                _ => ReleasedOutcome,
            });
        }
    }

    public void Refused(string reason) => _refused.Add(1, new KeyValuePair<string, object?>("reason", reason));
}
