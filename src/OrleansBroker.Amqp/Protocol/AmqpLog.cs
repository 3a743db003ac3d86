using Microsoft.Extensions.Logging;

namespace OrleansBroker.Amqp.Protocol;

/// <summary>The AMQP listener's log lines (category <c>OrleansBroker.Amqp</c>).</summary>
internal static partial class AmqpLog
{
    [LoggerMessage(Level = LogLevel.Debug, Message = "AMQP connection from {Remote} signed in as {Principal}")]
    public static partial void Connected(ILogger logger, string? remote, string principal);

    [LoggerMessage(Level = LogLevel.Information, Message = "AMQP connection from {Remote} (user '{User}') refused: {Reason}")]
    public static partial void Refused(ILogger logger, string? remote, string? user, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "AMQP link '{Link}' of {Principal} to '{Address}' refused: {Condition} {Reason}")]
    public static partial void AttachRefused(ILogger logger, string link, string principal, string? address, string condition, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "AMQP link '{Link}' of {Principal} attached to {Address} ({Role})")]
    public static partial void Attached(ILogger logger, string link, string principal, string address, string role);

    [LoggerMessage(Level = LogLevel.Warning, Message = "AMQP {Principal}: {Count} messages to {Address} could not be stored; each was rejected")]
    public static partial void PublishFailed(ILogger logger, Exception exception, string principal, int count, string address);

    [LoggerMessage(Level = LogLevel.Information, Message = "AMQP {Principal}: receiving from {Address} ended")]
    public static partial void ConsumeFailed(ILogger logger, Exception exception, string principal, string address);

    [LoggerMessage(Level = LogLevel.Debug, Message = "AMQP {Principal}: settling message {MessageId} failed (its lease had ended, so it is delivered again)")]
    public static partial void SettleFailed(ILogger logger, Exception exception, string principal, string messageId);

    [LoggerMessage(Level = LogLevel.Information, Message = "OrleansBroker AMQP 1.0 listening on {Addresses}")]
    public static partial void Listening(ILogger logger, string addresses);
}
