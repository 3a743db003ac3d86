using Amqp.Framing;
using Amqp.Types;
using OrleansBroker.Errors;
using ErrorCode = Amqp.ErrorCode;

namespace OrleansBroker.Amqp.Protocol;

/// <summary>The AMQP error conditions the broker's refusals become, one place for every link.</summary>
internal static class AmqpErrors
{
    /// <summary>The condition a client can act on for <paramref name="exception"/>.</summary>
    public static string Condition(Exception exception) => exception is BrokerException broker
        ? broker.Code switch
        {
            BrokerErrorCode.MessageTooLarge => ErrorCode.MessageSizeExceeded,
            BrokerErrorCode.InvalidMessage or BrokerErrorCode.InvalidBatch => ErrorCode.DecodeError,
            BrokerErrorCode.QueueNotFound or BrokerErrorCode.TopicNotFound => ErrorCode.NotFound,
            BrokerErrorCode.QueueFull or BrokerErrorCode.StorageFull or BrokerErrorCode.RateLimited => ErrorCode.ResourceLimitExceeded,
            BrokerErrorCode.Forbidden or BrokerErrorCode.Unauthenticated => ErrorCode.UnauthorizedAccess,
            _ => ErrorCode.InternalError,
        }
        : ErrorCode.InternalError;

    /// <summary>The error for <paramref name="exception"/>: its condition and the broker's words.</summary>
    public static Error Error(Exception exception) => new(new Symbol(Condition(exception)))
    {
        Description = exception is BrokerException ? exception.Message : "the broker could not do it now; try again",
    };

    /// <summary>The rejection of a message the broker refused.</summary>
    public static Rejected Rejected(Exception exception) => new() { Error = Error(exception) };
}
