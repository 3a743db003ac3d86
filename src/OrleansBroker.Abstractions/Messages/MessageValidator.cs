using System.Text;
using OrleansBroker.Errors;

namespace OrleansBroker.Messages;

/// <summary>Checks a message against <see cref="BrokerLimits"/>; the broker runs it on every publish, clients may run it early.</summary>
public static class MessageValidator
{
    /// <summary>Throws <see cref="BrokerException"/> (<c>MessageTooLarge</c> or <c>InvalidMessage</c>) naming the first broken limit.</summary>
    public static void Validate(BrokerMessage message, int maxBodyBytes)
    {
        if (message is null)
        {
            throw Invalid("Message is null.");
        }

        if (message.Body is null)
        {
            throw Invalid("Message body is null; send an empty array for an empty body.");
        }

        if (message.Body.Length > maxBodyBytes)
        {
            throw new BrokerException(BrokerErrorCode.MessageTooLarge,
                $"Message body is {message.Body.Length} bytes; the limit is {maxBodyBytes} (Broker:MaxMessageBytes).");
        }

        ValidateFields(message);
        ValidateTimes(message);
        if (message.Headers is { } headers)
        {
            ValidateHeaders(headers);
        }
    }

    private static void ValidateFields(BrokerMessage message)
    {
        if (message.Id is { } id && (id.Length == 0 || id.Length > BrokerLimits.MaxMessageIdLength))
        {
            throw Invalid($"Message id must be 1 to {BrokerLimits.MaxMessageIdLength} characters, or null to have one generated.");
        }

        if (message.ContentType is { Length: > BrokerLimits.MaxContentTypeLength })
        {
            throw Invalid($"Content type is longer than {BrokerLimits.MaxContentTypeLength} characters.");
        }

        if (message.RoutingKey is { Length: > BrokerLimits.MaxRoutingKeyLength })
        {
            throw Invalid($"Routing key is longer than {BrokerLimits.MaxRoutingKeyLength} characters.");
        }

        if (message.Priority is < 0 or > BrokerLimits.MaxPriority)
        {
            throw Invalid($"Priority {message.Priority} is out of range 0..{BrokerLimits.MaxPriority} (higher is delivered first).");
        }

        if (message.OrderingKey is { } key && (key.Length == 0 || key.Length > BrokerLimits.MaxOrderingKeyLength))
        {
            throw Invalid($"Ordering key must be 1 to {BrokerLimits.MaxOrderingKeyLength} characters, or null for none.");
        }
    }

    private static void ValidateTimes(BrokerMessage message)
    {
        if (message.Delay is { } delay)
        {
            if (message.DeliverAt is not null)
            {
                throw Invalid("Give either Delay or DeliverAt, not both.");
            }

            if (delay < TimeSpan.Zero || delay > BrokerLimits.MaxScheduleDelay)
            {
                throw Invalid($"Delay {delay} is out of range 0..{BrokerLimits.MaxScheduleDelay}.");
            }
        }

        if (message.TimeToLive is { } ttl && (ttl <= TimeSpan.Zero || ttl > BrokerLimits.MaxTimeToLive))
        {
            throw Invalid($"Time to live {ttl} is out of range; it must be above 0 and at most {BrokerLimits.MaxTimeToLive}.");
        }
    }

    private static void ValidateHeaders(IReadOnlyDictionary<string, string> headers)
    {
        if (headers.Count > BrokerLimits.MaxHeaderCount)
        {
            throw Invalid($"Message has {headers.Count} headers; the limit is {BrokerLimits.MaxHeaderCount}.");
        }

        var bytes = 0;
        foreach (var (name, value) in headers)
        {
            if (string.IsNullOrEmpty(name) || name.Length > BrokerLimits.MaxHeaderNameLength)
            {
                throw Invalid($"Header names must be 1 to {BrokerLimits.MaxHeaderNameLength} characters.");
            }

            if (name.StartsWith(BrokerHeaders.ReservedPrefix, StringComparison.OrdinalIgnoreCase))
            {
                throw Invalid($"Header '{name}': names starting with '{BrokerHeaders.ReservedPrefix}' are reserved for the broker.");
            }

            if (value is null)
            {
                throw Invalid($"Header '{name}' has a null value.");
            }

            bytes += Encoding.UTF8.GetByteCount(name) + Encoding.UTF8.GetByteCount(value);
        }

        if (bytes > BrokerLimits.MaxHeaderBytes)
        {
            throw Invalid($"Headers take {bytes} bytes; the limit is {BrokerLimits.MaxHeaderBytes}.");
        }
    }

    private static BrokerException Invalid(string message) => new(BrokerErrorCode.InvalidMessage, message);
}
