using System.Globalization;
using Microsoft.AspNetCore.Http;
using OrleansBroker.Errors;
using OrleansBroker.Messages;

namespace OrleansBroker.Http.Api;

/// <summary>
/// A message sent as one HTTP request: the body is the message body, <c>Content-Type</c> its content type, and its fields in
/// request headers. User headers are <c>Broker-Header-&lt;name&gt;</c> (the name as sent; HTTP/2 sends names lower-case).
/// </summary>
internal static class MessageHeaders
{
    public const string MessageId = "Broker-Message-Id";
    public const string OrderingKey = "Broker-Ordering-Key";
    public const string RoutingKey = "Broker-Routing-Key";
    public const string Priority = "Broker-Priority";
    public const string DelaySeconds = "Broker-Delay";
    public const string DeliverAt = "Broker-Deliver-At";
    public const string TimeToLiveSeconds = "Broker-Time-To-Live";
    public const string HeaderPrefix = "Broker-Header-";

    /// <summary>The message a request carries; its body already read. Throws <c>InvalidMessage</c> naming a bad header.</summary>
    public static BrokerMessage Read(HttpRequest request, byte[] body)
    {
        var headers = request.Headers;
        Dictionary<string, string>? user = null;
        foreach (var (name, value) in headers)
        {
            if (name.Length > HeaderPrefix.Length && name.StartsWith(HeaderPrefix, StringComparison.OrdinalIgnoreCase))
            {
                user ??= new Dictionary<string, string>(StringComparer.Ordinal);
                user[name[HeaderPrefix.Length..]] = value.ToString();
            }
        }

        return new BrokerMessage(
            Text(headers, MessageId),
            body,
            request.ContentType,
            user,
            Text(headers, RoutingKey),
            DeliverAt: Text(headers, DeliverAt) is { } at ? Time(at, DeliverAt) : null,
            Delay: Seconds(headers, DelaySeconds),
            TimeToLive: Seconds(headers, TimeToLiveSeconds),
            Priority: Text(headers, Priority) is { } priority ? Integer(priority, Priority) : 0,
            OrderingKey: Text(headers, OrderingKey));
    }

    private static string? Text(IHeaderDictionary headers, string name) => headers.TryGetValue(name, out var value) ? value.ToString() : null;

    public static TimeSpan? Seconds(IHeaderDictionary headers, string name) =>
        Text(headers, name) is { } text ? Seconds(text, name) : null;

    public static TimeSpan Seconds(string text, string name) =>
        double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) ? Seconds(seconds, name) : throw Bad(name, text, "a number of seconds");

    /// <summary>A duration given in seconds (0 to 366 days); <c>InvalidMessage</c> naming <paramref name="name"/> otherwise.</summary>
    public static TimeSpan Seconds(double seconds, string name) =>
        double.IsFinite(seconds) && seconds >= 0 && seconds <= 366 * 86400.0
            ? TimeSpan.FromSeconds(seconds)
            : throw Bad(name, seconds.ToString(CultureInfo.InvariantCulture), "a number of seconds from 0 to 366 days");

    /// <summary>A whole number from the query string, or null when absent; <c>InvalidOptions</c> when it is not one.</summary>
    public static int? QueryInteger(HttpRequest request, string name) =>
        request.Query.TryGetValue(name, out var value)
            ? int.TryParse(value.ToString(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var number) ? number
                : throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Query parameter {name}: '{Clip(value.ToString())}' is not a whole number.")
            : null;

    /// <summary>Seconds from the query string, or null when absent; <c>InvalidOptions</c> when not a number.</summary>
    public static TimeSpan? QuerySeconds(HttpRequest request, string name) =>
        request.Query.TryGetValue(name, out var value)
            ? double.TryParse(value.ToString(), NumberStyles.Float, CultureInfo.InvariantCulture, out var seconds) && double.IsFinite(seconds) && seconds >= 0
                ? TimeSpan.FromSeconds(Math.Min(seconds, 366 * 86400.0))
                : throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Query parameter {name}: '{Clip(value.ToString())}' is not a number of seconds.")
            : null;

    private static int Integer(string text, string name) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : throw Bad(name, text, "a whole number");

    private static DateTimeOffset Time(string text, string name) =>
        DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var time) ? time : throw Bad(name, text, "a time (RFC 3339)");

    private static BrokerException Bad(string name, string text, string expected) =>
        new(BrokerErrorCode.InvalidMessage, $"Header {name}: '{Clip(text)}' is not {expected}.");

    public static string Clip(string text) => text.Length <= 64 ? text : text[..64] + "…";
}
