using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansBroker.Messages;

namespace OrleansBroker.Server.Topics.Transforms;

/// <summary>
/// <c>cloudevents-wrap</c>: makes a message a CloudEvent 1.0. <c>mode=structured</c> (default): the body becomes
/// the JSON envelope (<c>application/cloudevents+json</c>), JSON bodies as <c>data</c>, text as a string,
/// anything else as <c>data_base64</c>. <c>mode=binary</c>: the body stays, the attributes go in <c>ce-*</c>
/// headers. <c>type</c> defaults to the routing key, <c>source</c> to <c>/topics/&lt;topic&gt;</c>.
/// </summary>
internal sealed class CloudEventsWrapTransform : IMessageTransform
{
    public string Name => "cloudevents-wrap";

    public void Validate(IReadOnlyDictionary<string, string> settings)
    {
        TransformSettings.OnlyKnown(settings, Name, "mode", "type", "source");
        if (settings.TryGetValue("mode", out var mode) && mode is not ("structured" or "binary"))
        {
            throw new ArgumentException($"transform '{Name}': mode is 'structured' or 'binary', not '{mode}'");
        }
    }

    public BrokerMessage Apply(BrokerMessage message, TransformContext context)
    {
        var id = message.Id ?? throw new InvalidOperationException("a CloudEvent needs a message id");
        var type = context.Setting("type", message.RoutingKey ?? "org.orleansbroker.message");
        var source = context.Setting("source", $"/topics/{context.Topic}");
        var time = context.Now.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);
        if (context.Setting("mode", "structured") == "binary")
        {
            var headers = message.Headers is null ? new Dictionary<string, string>() : new Dictionary<string, string>(message.Headers);
            headers[CloudEvents.Header("specversion")] = CloudEvents.SpecVersion;
            headers[CloudEvents.Header("id")] = id;
            headers[CloudEvents.Header("source")] = source;
            headers[CloudEvents.Header("type")] = type;
            headers[CloudEvents.Header("time")] = time;
            return message with { Headers = headers };
        }

        var envelope = new JsonObject
        {
            ["specversion"] = CloudEvents.SpecVersion,
            ["id"] = id,
            ["source"] = source,
            ["type"] = type,
            ["time"] = time,
        };
        if (message.ContentType is { } contentType)
        {
            envelope["datacontenttype"] = contentType;
        }

        if (CloudEvents.IsJson(message.ContentType))
        {
            envelope["data"] = JsonNode.Parse(message.Body);
        }
        else if (message.ContentType?.StartsWith("text/", StringComparison.OrdinalIgnoreCase) == true)
        {
            envelope["data"] = Encoding.UTF8.GetString(message.Body);
        }
        else
        {
            envelope["data_base64"] = Convert.ToBase64String(message.Body);
        }

        return message with { Body = JsonSerializer.SerializeToUtf8Bytes(envelope, CloudEvents.Json), ContentType = CloudEvents.StructuredContentType };
    }
}
