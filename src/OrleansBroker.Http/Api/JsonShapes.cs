using System.Globalization;
using System.Text;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;

namespace OrleansBroker.Http.Api;

/// <summary>
/// A message in a JSON batch: <c>body</c> as UTF-8 text or <c>bodyBase64</c> as bytes (one of them; neither is an empty
/// body), the other fields as on <see cref="BrokerMessage"/>, durations in seconds.
/// </summary>
internal sealed record JsonMessage(
    string? Id = null,
    string? Body = null,
    string? BodyBase64 = null,
    string? ContentType = null,
    Dictionary<string, string>? Headers = null,
    string? RoutingKey = null,
    string? OrderingKey = null,
    int Priority = 0,
    double? DelaySeconds = null,
    DateTimeOffset? DeliverAt = null,
    double? TimeToLiveSeconds = null)
{
    public BrokerMessage ToMessage(int index)
    {
        if (Body is not null && BodyBase64 is not null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidMessage, $"Message {index} has both body and bodyBase64; give one.");
        }

        byte[] body;
        try
        {
            body = BodyBase64 is not null ? Convert.FromBase64String(BodyBase64) : Encoding.UTF8.GetBytes(Body ?? "");
        }
        catch (FormatException)
        {
            throw new BrokerException(BrokerErrorCode.InvalidMessage, $"Message {index}: bodyBase64 is not base64.");
        }

        return new BrokerMessage(Id, body, ContentType, Headers, RoutingKey, DeliverAt,
            DelaySeconds is { } delay ? Seconds(delay, index, "delaySeconds") : null,
            TimeToLiveSeconds is { } ttl ? Seconds(ttl, index, "timeToLiveSeconds") : null,
            Priority, OrderingKey);
    }

    private static TimeSpan Seconds(double value, int index, string field) =>
        double.IsFinite(value) && value >= 0 && value <= 366 * 86400.0
            ? TimeSpan.FromSeconds(value)
            : throw new BrokerException(BrokerErrorCode.InvalidMessage, $"Message {index}: {field} must be 0 to {366 * 86400} seconds.");
}

/// <summary>A delivery as a receive returns it. Settle it with <see cref="LockToken"/> before <see cref="LeaseExpiresAt"/>.</summary>
internal sealed record JsonDelivery(
    string MessageId,
    long Sequence,
    int Attempt,
    string LockToken,
    DateTimeOffset LeaseExpiresAt,
    DateTimeOffset EnqueuedAt,
    string? ContentType,
    IReadOnlyDictionary<string, string>? Headers,
    string? RoutingKey,
    int Priority,
    string? OrderingKey,
    string? Body,
    string? BodyBase64)
{
    public static JsonDelivery From(Delivery delivery)
    {
        var (text, base64) = BodyText.Of(delivery.Body);
        return new JsonDelivery(delivery.MessageId, delivery.Sequence, delivery.Attempt, Api.LockToken.Format(delivery), delivery.LeaseExpiresAt,
            delivery.EnqueuedAt, delivery.ContentType, delivery.Headers, delivery.RoutingKey, delivery.Priority, delivery.OrderingKey, text, base64);
    }
}

/// <summary>A message as a peek shows it.</summary>
internal sealed record JsonPeeked(
    long Sequence,
    string MessageId,
    string State,
    int Attempts,
    DateTimeOffset EnqueuedAt,
    DateTimeOffset? NotBefore,
    DateTimeOffset? ExpiresAt,
    DateTimeOffset? LeaseExpiresAt,
    string? ContentType,
    IReadOnlyDictionary<string, string>? Headers,
    string? RoutingKey,
    int Priority,
    string? OrderingKey,
    string? Body,
    string? BodyBase64)
{
    public static JsonPeeked From(PeekedMessage message)
    {
        var (text, base64) = BodyText.Of(message.Body);
        return new JsonPeeked(message.Sequence, message.MessageId, message.State.ToString().ToLowerInvariant(), message.Attempts, message.EnqueuedAt,
            message.NotBefore, message.ExpiresAt, message.LeaseExpiresAt, message.ContentType, message.Headers, message.RoutingKey, message.Priority,
            message.OrderingKey, text, base64);
    }
}

/// <summary>The body of a settle request: the lock token of the delivery, and what the outcome takes.</summary>
internal sealed record SettleRequest(string? LockToken = null, double? RetryAfterSeconds = null, string? Reason = null, double? LeaseSeconds = null);

/// <summary>A body as text when it is UTF-8, else as base64.</summary>
internal static class BodyText
{
    private static readonly UTF8Encoding Strict = new(encoderShouldEmitUTF8Identifier: false, throwOnInvalidBytes: true);

    public static (string? Text, string? Base64) Of(byte[] body)
    {
        try
        {
            return (Strict.GetString(body), null);
        }
        catch (DecoderFallbackException)
        {
            return (null, Convert.ToBase64String(body));
        }
    }
}

/// <summary>
/// A delivery's lock token over HTTP: <c>&lt;partition&gt;.&lt;lease token&gt;</c>, so a settle finds the partition that
/// leased it. Opaque to users.
/// </summary>
internal static class LockToken
{
    public static string Format(Delivery delivery) =>
        string.Create(CultureInfo.InvariantCulture, $"{QueuePartitions.Parse(delivery.Queue).Index}.{delivery.LeaseToken}");

    public static (int Partition, long Token) Parse(string? text)
    {
        var dot = text?.IndexOf('.', StringComparison.Ordinal) ?? -1;
        if (dot > 0
            && int.TryParse(text.AsSpan(0, dot), NumberStyles.None, CultureInfo.InvariantCulture, out var partition) && partition < QueueOptions.MaxPartitions
            && long.TryParse(text.AsSpan(dot + 1), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var token))
        {
            return (partition, token);
        }

        throw new BrokerException(BrokerErrorCode.InvalidOptions, "lockToken is missing or malformed: send the lockToken a receive returned.");
    }
}
