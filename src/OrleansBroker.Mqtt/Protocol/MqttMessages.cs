using System.Buffers;
using System.Text;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using OrleansBroker.Messages;

namespace OrleansBroker.Mqtt.Protocol;

/// <summary>
/// MQTT publishes as broker messages and back: payload as body, routing key from the topic name, MQTT 5 properties as
/// content type, time to live and headers; the listener's own headers (<c>x-mqtt-*</c>) carry what only MQTT needs.
/// </summary>
internal static class MqttMessages
{
    public const string QosHeader = "x-mqtt-qos";
    public const string ClientHeader = "x-mqtt-client";
    public const string ResponseTopicHeader = "x-mqtt-response-topic";
    public const string CorrelationHeader = "x-mqtt-correlation-data";
    public const string InternalHeaderPrefix = "x-mqtt-";

    public static BrokerMessage ToMessage(string clientId, string topic, byte[] payload, MqttQualityOfServiceLevel qos, string? contentType, uint expirySeconds,
        List<MqttUserProperty>? properties, string? responseTopic, byte[]? correlation)
    {
        var headers = new Dictionary<string, string>(StringComparer.Ordinal) { [ClientHeader] = clientId };
        if (qos == MqttQualityOfServiceLevel.AtMostOnce)
        {
            headers[QosHeader] = "0";
        }

        if (properties is not null)
        {
            foreach (var property in properties)
            {
                if (!property.Name.StartsWith(InternalHeaderPrefix, StringComparison.Ordinal))
                {
                    headers[property.Name] = property.ReadValueAsString();
                }
            }
        }

        if (!string.IsNullOrEmpty(responseTopic))
        {
            headers[ResponseTopicHeader] = responseTopic;
        }

        if (correlation is { Length: > 0 })
        {
            headers[CorrelationHeader] = Convert.ToBase64String(correlation);
        }

        return new BrokerMessage(null, payload, string.IsNullOrEmpty(contentType) ? null : contentType, headers, MqttNames.ToRoutingKey(topic),
            TimeToLive: expirySeconds > 0 ? TimeSpan.FromSeconds(expirySeconds) : null);
    }

    public static MqttPublishPacket ToPacket(bool v5, string topic, byte[] payload, MqttQualityOfServiceLevel qos, string? contentType,
        IReadOnlyDictionary<string, string>? headers, bool retain, bool dup)
    {
        var packet = new MqttPublishPacket
        {
            Topic = topic,
            Payload = new ReadOnlySequence<byte>(payload),
            QualityOfServiceLevel = qos,
            Retain = retain,
            Dup = dup,
        };
        if (v5)
        {
            packet.ContentType = contentType;
            if (headers is not null)
            {
                foreach (var (name, value) in headers)
                {
                    switch (name)
                    {
                        case ResponseTopicHeader:
                            packet.ResponseTopic = value;
                            break;
                        case CorrelationHeader:
                            packet.CorrelationData = Convert.TryFromBase64String(value, new byte[value.Length], out var length) ? Convert.FromBase64String(value)[..length] : null;
                            break;
                        case var _ when name.StartsWith(InternalHeaderPrefix, StringComparison.Ordinal):
                            break;
                        default:
                            (packet.UserProperties ??= []).Add(new MqttUserProperty(name, Encoding.UTF8.GetBytes(value)));
                            break;
                    }
                }
            }
        }

        return packet;
    }
}
