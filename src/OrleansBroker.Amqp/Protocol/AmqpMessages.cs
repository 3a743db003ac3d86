using System.Globalization;
using System.Text;
using Amqp;
using Amqp.Framing;
using Amqp.Types;
using OrleansBroker.Errors;
using OrleansBroker.Messages;

namespace OrleansBroker.Amqp.Protocol;

/// <summary>
/// AMQP 1.0 messages to and from the broker's: properties, header, annotations and application properties map to message
/// fields and headers (the table in docs/amqp.md); a body is kept as bytes, with a header saying how to give it back.
/// </summary>
internal static class AmqpMessages
{
    /// <summary>How the body was sent, when not as one data section: <c>string</c> (an amqp-value string, kept as UTF-8) or
    /// <c>amqp</c> (any other body, kept as its encoded sections).</summary>
    public const string BodyHeader = "x-amqp-body";

    /// <summary>The message's correlation id.</summary>
    public const string CorrelationIdHeader = "x-amqp-correlation-id";

    /// <summary>The message's reply-to address.</summary>
    public const string ReplyToHeader = "x-amqp-reply-to";

    // Annotation keys, made once: every message in and out looks them up or sets them.
    private static readonly Symbol DeliveryTime = new("x-opt-delivery-time");
    private static readonly Symbol DeliveryDelay = new("x-opt-delivery-delay");
    private static readonly Symbol SequenceNumber = new("x-opt-sequence-number");
    private static readonly Symbol EnqueuedTime = new("x-opt-enqueued-time");

    /// <summary>The broker message an AMQP message becomes; throws <see cref="BrokerException"/> for what cannot be one.</summary>
    public static BrokerMessage ToBroker(Message message, int maxBodyBytes)
    {
        var properties = message.Properties;
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        if (message.ApplicationProperties?.Map is { } map)
        {
            foreach (var key in map.Keys)
            {
                if (key is not string name || Text(map[key]) is not { } value)
                {
                    throw new BrokerException(BrokerErrorCode.InvalidMessage,
                        $"Application property '{key}' cannot be a broker header: keys must be strings and values strings, numbers, booleans, timestamps or uuids.");
                }

                headers[name] = value;
            }
        }

        var body = Body(message, headers);
        if (properties?.GetCorrelationId() is { } correlation)
        {
            headers[CorrelationIdHeader] = Text(correlation) ?? "";
        }

        if (properties?.ReplyTo is { } replyTo)
        {
            headers[ReplyToHeader] = replyTo;
        }

        DateTimeOffset? deliverAt = null;
        TimeSpan? delay = null;
        if (message.MessageAnnotations is { } annotations)
        {
            deliverAt = annotations[DeliveryTime] switch
            {
                null => null,
                DateTime time => new DateTimeOffset(DateTime.SpecifyKind(time, DateTimeKind.Utc)),
                long ms => DateTimeOffset.FromUnixTimeMilliseconds(ms),
                var other => throw Invalid($"{DeliveryTime} must be a timestamp, not {other.GetType().Name}."),
            };
            delay = annotations[DeliveryDelay] switch
            {
                null => null,
                long ms and >= 0 => TimeSpan.FromMilliseconds(ms),
                int ms and >= 0 => TimeSpan.FromMilliseconds(ms),
                var other => throw Invalid($"{DeliveryDelay} must be a number of milliseconds, not {other}."),
            };
        }

        var header = message.Header;
        var result = new BrokerMessage(
            Id: properties?.GetMessageId() is { } id ? Text(id) : null,
            Body: body,
            ContentType: properties?.ContentType is { } contentType ? (string)contentType : null,
            Headers: headers.Count == 0 ? null : headers,
            RoutingKey: properties?.Subject,
            DeliverAt: deliverAt,
            Delay: delay,
            TimeToLive: header is not null && header.HasField(2) ? TimeSpan.FromMilliseconds(header.Ttl) : null,
            Priority: header is not null && header.HasField(1) ? Math.Min((int)header.Priority, BrokerLimits.MaxPriority) : 0,
            OrderingKey: properties?.GroupId);
        MessageValidator.Validate(result, maxBodyBytes);
        return result;
    }

    /// <summary>The AMQP message a delivery goes out as.</summary>
    public static Message ToAmqp(Delivery delivery)
    {
        var headers = delivery.Headers;
        var message = new Message
        {
            Header = new Header { Durable = true, DeliveryCount = (uint)Math.Max(0, delivery.Attempt - 1), FirstAcquirer = delivery.Attempt == 1 },
            Properties = new Properties { MessageId = delivery.MessageId, CreationTime = delivery.EnqueuedAt.UtcDateTime },
            MessageAnnotations = new MessageAnnotations(),
        };
        if (delivery.Priority > 0)
        {
            message.Header.Priority = (byte)delivery.Priority;
        }

        var properties = message.Properties;
        if (delivery.RoutingKey is { } subject)
        {
            properties.Subject = subject;
        }

        if (delivery.ContentType is { } contentType)
        {
            properties.ContentType = contentType;
        }

        if (delivery.OrderingKey is { } group)
        {
            properties.GroupId = group;
        }

        message.MessageAnnotations[SequenceNumber] = delivery.Sequence;
        message.MessageAnnotations[EnqueuedTime] = delivery.EnqueuedAt.UtcDateTime;
        string? bodyKind = null;
        if (headers is not null)
        {
            foreach (var (name, value) in headers)
            {
                switch (name)
                {
                    case BodyHeader:
                        bodyKind = value;
                        break;
                    case CorrelationIdHeader:
                        properties.CorrelationId = value;
                        break;
                    case ReplyToHeader:
                        properties.ReplyTo = value;
                        break;
                    default:
                        message.ApplicationProperties ??= new ApplicationProperties();
                        message.ApplicationProperties[name] = value;
                        break;
                }
            }
        }

        switch (bodyKind)
        {
            case "string":
                message.BodySection = new AmqpValue { Value = Encoding.UTF8.GetString(delivery.Body) };
                break;
            case "amqp" when DecodeSections(delivery.Body) is { } section:
                message.BodySection = section;
                break;
            default:
                message.BodySection = new Data { Binary = delivery.Body };
                break;
        }

        return message;
    }

    private static byte[] Body(Message message, Dictionary<string, string> headers)
    {
        switch (message.BodySection)
        {
            case null:
                return [];
            case Data data:
                return data.Binary ?? [];
            case AmqpValue { Value: string text }:
                headers[BodyHeader] = "string";
                return Encoding.UTF8.GetBytes(text);
            case AmqpValue { Value: byte[] bytes }:
                return bytes;
            default:
                // An amqp-sequence or a typed amqp-value (a map, a list, a number): kept encoded, given back as it came.
                var buffer = new ByteBuffer(256, true);
                message.BodySection.Encode(buffer);
                headers[BodyHeader] = "amqp";
                return buffer.Buffer.AsSpan(buffer.Offset, buffer.Length).ToArray();
        }
    }

    private static RestrictedDescribed? DecodeSections(byte[] body)
    {
        try
        {
            return global::Amqp.Types.Encoder.ReadObject(new ByteBuffer(body, 0, body.Length, body.Length)) as RestrictedDescribed;
        }
        catch (Exception exception) when (exception is AmqpException or InvalidCastException or IndexOutOfRangeException or ArgumentException)
        {
            return null;
        }
    }

    /// <summary>An application property or id as header text: strings as they are, numbers invariant, timestamps ISO 8601.</summary>
    private static string? Text(object? value) => value switch
    {
        string text => text,
        Symbol symbol => (string)symbol,
        bool flag => flag ? "true" : "false",
        DateTime time => new DateTimeOffset(DateTime.SpecifyKind(time, DateTimeKind.Utc)).ToString("O", CultureInfo.InvariantCulture),
        Guid guid => guid.ToString(),
        IFormattable number and (sbyte or byte or short or ushort or int or uint or long or ulong or float or double or decimal) => number.ToString(null, CultureInfo.InvariantCulture),
        byte[] bytes => Convert.ToBase64String(bytes),
        _ => null,
    };

    private static BrokerException Invalid(string message) => new(BrokerErrorCode.InvalidMessage, message);
}
