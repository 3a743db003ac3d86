using System.Globalization;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Topics.Transforms;

namespace OrleansBroker.Push.Pushing;

/// <summary>
/// The HTTP requests of push delivery: a message laid out as its endpoint's <see cref="PushPayload"/> asks, the validation
/// request, and the signature on both (<c>Broker-Signature: t=&lt;unix seconds&gt;,v1=&lt;hex HMAC-SHA256 of
/// "&lt;t&gt;.&lt;body&gt;"&gt;</c>, one <c>v1</c> per secret).
/// </summary>
internal static class PushRequests
{
    public const string Signature = "Broker-Signature";
    public const string Validation = "Broker-Push-Validation";
    public const string Queue = "Broker-Queue";
    public const string Attempt = "Broker-Delivery-Attempt";
    public const string EnqueuedAt = "Broker-Enqueued-At";
    public const string MessageId = "Broker-Message-Id";
    public const string RoutingKey = "Broker-Routing-Key";
    public const string OrderingKey = "Broker-Ordering-Key";
    public const string Priority = "Broker-Priority";
    public const string HeaderPrefix = "Broker-Header-";

    /// <summary>The request that delivers <paramref name="delivery"/> to <paramref name="endpoint"/>.</summary>
    public static HttpRequestMessage Message(PushEndpoint endpoint, Uri url, string queue, Delivery delivery, DateTimeOffset now)
    {
        byte[] body;
        string contentType;
        var request = new HttpRequestMessage(HttpMethod.Post, url);
        var headers = request.Headers;
        headers.TryAddWithoutValidation(Queue, queue);
        headers.TryAddWithoutValidation(Attempt, delivery.Attempt.ToString(CultureInfo.InvariantCulture));
        switch (endpoint.Payload)
        {
            case PushPayload.CloudEventsStructured:
                body = Structured(queue, delivery);
                contentType = CloudEvents.StructuredContentType + "; charset=utf-8";
                break;
            case PushPayload.CloudEventsBinary:
                body = delivery.Body;
                contentType = delivery.ContentType ?? "application/octet-stream";
                foreach (var (attribute, value) in Attributes(queue, delivery))
                {
                    headers.TryAddWithoutValidation(CloudEvents.Header(attribute), value);
                }

                break;
            default:
                body = delivery.Body;
                contentType = delivery.ContentType ?? "application/octet-stream";
                headers.TryAddWithoutValidation(MessageId, delivery.MessageId);
                headers.TryAddWithoutValidation(EnqueuedAt, delivery.EnqueuedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
                AddIfSafe(headers, RoutingKey, delivery.RoutingKey);
                AddIfSafe(headers, OrderingKey, delivery.OrderingKey);
                if (delivery.Priority != 0)
                {
                    headers.TryAddWithoutValidation(Priority, delivery.Priority.ToString(CultureInfo.InvariantCulture));
                }

                foreach (var (name, value) in delivery.Headers ?? EmptyHeaders)
                {
                    if (IsToken(name))
                    {
                        AddIfSafe(headers, HeaderPrefix + name, value);
                    }
                }

                break;
        }

        request.Content = new ByteArrayContent(body);
        request.Content.Headers.TryAddWithoutValidation("Content-Type", contentType);
        Finish(request, endpoint, body, now);
        return request;
    }

    /// <summary>The request that asks an endpoint to confirm it wants this queue's messages: it must answer 200 with <paramref name="token"/> as its body.</summary>
    public static HttpRequestMessage Validate(PushEndpoint endpoint, Uri url, string queue, string token, DateTimeOffset now)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new ByteArrayContent([]) };
        request.Headers.TryAddWithoutValidation(Validation, token);
        request.Headers.TryAddWithoutValidation(Queue, queue);
        Finish(request, endpoint, [], now);
        return request;
    }

    /// <summary>The <c>Broker-Signature</c> value of <paramref name="body"/> at <paramref name="unixSeconds"/>: what a receiver recomputes.</summary>
    public static string Sign(IReadOnlyList<string> secrets, long unixSeconds, ReadOnlySpan<byte> body)
    {
        var t = unixSeconds.ToString(CultureInfo.InvariantCulture);
        var signed = new byte[t.Length + 1 + body.Length];
        Encoding.ASCII.GetBytes(t, signed);
        signed[t.Length] = (byte)'.';
        body.CopyTo(signed.AsSpan(t.Length + 1));
        var value = new StringBuilder("t=").Append(t);
        foreach (var secret in secrets)
        {
            value.Append(",v1=").Append(Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed)));
        }

        return value.ToString();
    }

    private static void Finish(HttpRequestMessage request, PushEndpoint endpoint, byte[] body, DateTimeOffset now)
    {
        foreach (var (name, value) in endpoint.Headers ?? EmptyHeaders)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        request.Headers.TryAddWithoutValidation(Signature, Sign(endpoint.Secrets, now.ToUnixTimeSeconds(), body));
    }

    private static IEnumerable<(string Attribute, string Value)> Attributes(string queue, Delivery delivery)
    {
        var headers = delivery.Headers ?? EmptyHeaders;
        yield return ("specversion", CloudEvents.SpecVersion);
        yield return ("id", delivery.MessageId);
        yield return ("source", headers.GetValueOrDefault(CloudEvents.Header("source")) ?? $"/queues/{queue}");
        yield return ("type", headers.GetValueOrDefault(CloudEvents.Header("type")) ?? delivery.RoutingKey ?? "org.orleansbroker.message");
        yield return ("time", delivery.EnqueuedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture));
        if (delivery.RoutingKey is { } subject && Safe(subject))
        {
            yield return ("subject", subject);
        }
    }

    private static byte[] Structured(string queue, Delivery delivery)
    {
        var document = new JsonObject();
        foreach (var (attribute, value) in Attributes(queue, delivery))
        {
            document[attribute] = value;
        }

        if (delivery.ContentType is { } contentType)
        {
            document["datacontenttype"] = contentType;
        }

        if (CloudEvents.IsJson(delivery.ContentType) && TryParse(delivery.Body) is { } json)
        {
            document["data"] = json;
        }
        else
        {
            document["data_base64"] = Convert.ToBase64String(delivery.Body);
        }

        return JsonSerializer.SerializeToUtf8Bytes(document, CloudEvents.Json);
    }

    private static JsonNode? TryParse(byte[] body)
    {
        try
        {
            return JsonNode.Parse(body);
        }
        catch (JsonException)
        {
            return null;
        }
    }

    private static void AddIfSafe(HttpRequestHeaders headers, string name, string? value)
    {
        if (value is not null && Safe(value))
        {
            headers.TryAddWithoutValidation(name, value);
        }
    }

    /// <summary>A value that fits in an HTTP header: no control characters (line breaks above all), no non-ASCII.</summary>
    private static bool Safe(string value) => value.All(c => c is >= ' ' and < (char)127 || c == '\t');

    private static bool IsToken(string name) =>
        name.Length is > 0 and <= 100 && name.All(c => c < 127 && (char.IsAsciiLetterOrDigit(c) || "!#$%&'*+-.^_`|~".Contains(c)));

    private static readonly Dictionary<string, string> EmptyHeaders = [];
}
