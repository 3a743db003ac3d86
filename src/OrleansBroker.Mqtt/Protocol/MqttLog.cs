using Microsoft.Extensions.Logging;
using MQTTnet.Formatter;

namespace OrleansBroker.Mqtt.Protocol;

/// <summary>The MQTT listener's log lines (category <c>OrleansBroker.Mqtt</c>).</summary>
internal static partial class MqttLog
{
    [LoggerMessage(Level = LogLevel.Debug, Message = "MQTT client {ClientId} connected as {Principal} in tenant '{Tenant}' ({Version}, session present {Present})")]
    public static partial void Connected(ILogger logger, string clientId, string principal, string tenant, MqttProtocolVersion version, bool present);

    [LoggerMessage(Level = LogLevel.Debug, Message = "MQTT client {ClientId} disconnected (session taken over: {TakenOver})")]
    public static partial void Disconnected(ILogger logger, string clientId, bool takenOver);

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT connect of client '{ClientId}' (user '{User}') refused: {Reason}")]
    public static partial void Refused(ILogger logger, string clientId, string? user, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT client '{ClientId}' disconnected: {Reason}")]
    public static partial void RefusedPacket(ILogger logger, string clientId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT client '{ClientId}' disconnected: no packet within 1.5 keep-alive periods")]
    public static partial void KeepAliveExpired(ILogger logger, string clientId);

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT client '{ClientId}': publish to '{Topic}' refused: {Reason}")]
    public static partial void PublishRefused(ILogger logger, string clientId, string topic, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "MQTT client '{ClientId}': subscribe to '{Filter}' refused: {Reason}")]
    public static partial void SubscribeRefused(ILogger logger, string clientId, string? filter, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT client '{ClientId}': {Count} publishes could not be stored; none was acknowledged")]
    public static partial void PublishFailed(ILogger logger, Exception exception, string clientId, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Retained messages of tenant '{Tenant}' are at their limit ({Messages} messages, {Bytes} bytes): '{Topic}' was published but not retained")]
    public static partial void RetainedFull(ILogger logger, string tenant, string topic, int messages, long bytes);

    [LoggerMessage(Level = LogLevel.Debug, Message = "MQTT client '{ClientId}': settling message {MessageId} failed; it will be delivered again")]
    public static partial void SettleFailed(ILogger logger, Exception exception, string clientId, string messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "MQTT client '{ClientId}': the connection ended on an error")]
    public static partial void ConnectionFailed(ILogger logger, Exception exception, string clientId);
}
