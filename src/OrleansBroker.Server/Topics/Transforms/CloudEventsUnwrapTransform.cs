using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansBroker.Messages;

namespace OrleansBroker.Server.Topics.Transforms;

/// <summary>
/// <c>cloudevents-unwrap</c>: a structured CloudEvent becomes its data, with <c>datacontenttype</c> as the content
/// type and the attributes as <c>ce-*</c> headers (binary mode). A binary-mode event is left as it is. Anything
/// that is not a CloudEvent fails the transform (to the subscription's dead-letter queue).
/// </summary>
internal sealed class CloudEventsUnwrapTransform : IMessageTransform
{
    private static readonly string[] Attributes = ["id", "source", "type", "time", "subject"];

    public string Name => "cloudevents-unwrap";

    public void Validate(IReadOnlyDictionary<string, string> settings) => TransformSettings.OnlyKnown(settings, Name);

    public BrokerMessage Apply(BrokerMessage message, TransformContext context)
    {
        if (message.Headers?.ContainsKey(CloudEvents.Header("specversion")) == true)
        {
            return message;
        }

        JsonObject envelope;
        try
        {
            envelope = JsonNode.Parse(message.Body) as JsonObject ?? throw new JsonException("the body is not a JSON object");
        }
        catch (JsonException exception)
        {
            throw new InvalidOperationException($"not a CloudEvent: {exception.Message}", exception);
        }

        if (envelope["specversion"]?.GetValue<string>() is not { } version)
        {
            throw new InvalidOperationException("not a CloudEvent: no specversion");
        }

        var headers = message.Headers is null ? new Dictionary<string, string>() : new Dictionary<string, string>(message.Headers);
        headers[CloudEvents.Header("specversion")] = version;
        foreach (var attribute in Attributes)
        {
            if (envelope[attribute] is JsonValue value)
            {
                headers[CloudEvents.Header(attribute)] = value.ToString();
            }
        }

        var contentType = envelope["datacontenttype"]?.GetValue<string>();
        byte[] body;
        if (envelope["data_base64"] is JsonValue base64)
        {
            body = Convert.FromBase64String(base64.GetValue<string>());
        }
        else if (envelope["data"] is { } data)
        {
            body = data is JsonValue text && text.TryGetValue<string>(out var s) && !CloudEvents.IsJson(contentType)
                ? Encoding.UTF8.GetBytes(s)
                : JsonSerializer.SerializeToUtf8Bytes(data, CloudEvents.Json);
            contentType ??= "application/json";
        }
        else
        {
            body = [];
        }

        return message with { Body = body, ContentType = contentType, Headers = headers };
    }
}
