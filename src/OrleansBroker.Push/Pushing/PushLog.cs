using Microsoft.Extensions.Logging;

namespace OrleansBroker.Push.Pushing;

internal static partial class PushLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: pushing to {Url} (the endpoint confirmed it)")]
    public static partial void Started(ILogger logger, string queue, string url);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: push endpoint {Url} not confirmed yet ({Problem}); asking again")]
    public static partial void ValidationFailed(ILogger logger, string queue, string url, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: pushing stopped: the queue could not be consumed")]
    public static partial void ConsumeFailed(ILogger logger, Exception exception, string queue);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Queue {Queue}: settling pushed message {MessageId} failed; it is delivered again")]
    public static partial void SettleFailed(ILogger logger, Exception exception, string queue, string messageId);
}
