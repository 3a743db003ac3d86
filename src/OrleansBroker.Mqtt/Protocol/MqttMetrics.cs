using System.Diagnostics.Metrics;
using MQTTnet.Protocol;

namespace OrleansBroker.Mqtt.Protocol;

/// <summary>
/// The MQTT listener's instruments on the broker's meter (<see cref="BrokerTelemetry.MeterName"/>): open connections,
/// publishes taken from clients and messages sent to them by QoS, refused connects by reason. Per silo.
/// </summary>
internal sealed class MqttMetrics
{
    private static readonly KeyValuePair<string, object?>[][] ByQoS = [[new("qos", "0")], [new("qos", "1")], [new("qos", "2")]];

    private readonly Counter<long> _received;
    private readonly Counter<long> _sent;
    private readonly Counter<long> _refused;
    private int _connections;

    public MqttMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(BrokerTelemetry.MeterName);
        meter.CreateObservableUpDownCounter("obroker.mqtt.connections", () => Volatile.Read(ref _connections), "{connection}", "MQTT connections open on this silo.");
        _received = meter.CreateCounter<long>("obroker.mqtt.messages.received", "{message}", "Publishes from MQTT clients stored (and acknowledged), by QoS.");
        _sent = meter.CreateCounter<long>("obroker.mqtt.messages.sent", "{message}", "Messages sent to MQTT clients (retained ones and resends included), by QoS.");
        _refused = meter.CreateCounter<long>("obroker.mqtt.connects.refused", "{connect}", "CONNECTs refused, by reason (the MQTT 5 reason code's name).");
    }

    public void Opened() => Interlocked.Increment(ref _connections);

    public void Closed() => Interlocked.Decrement(ref _connections);

    public void Received(MqttQualityOfServiceLevel qos, int count = 1)
    {
        if (_received.Enabled)
        {
            _received.Add(count, ByQoS[(int)qos]);
        }
    }

    public void Sent(MqttQualityOfServiceLevel qos)
    {
        if (_sent.Enabled)
        {
            _sent.Add(1, ByQoS[(int)qos]);
        }
    }

    public void Refused(MqttConnectReasonCode reason) => _refused.Add(1, new KeyValuePair<string, object?>("reason", reason.ToString()));
}
