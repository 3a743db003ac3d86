using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansBroker.Messages;

namespace OrleansBroker.Server.Topics.Transforms;

/// <summary>
/// <c>json-project</c>: reshapes a JSON object body. <c>keep</c>: only these top-level fields; <c>drop</c>: not
/// these; <c>rename</c>: <c>old:new</c> pairs (applied last). A body that is not a JSON object fails the transform.
/// </summary>
internal sealed class JsonProjectTransform : IMessageTransform
{
    public string Name => "json-project";

    public void Validate(IReadOnlyDictionary<string, string> settings)
    {
        TransformSettings.OnlyKnown(settings, Name, "keep", "drop", "rename");
        if (settings.Count == 0)
        {
            throw new ArgumentException($"transform '{Name}' needs keep, drop or rename");
        }
    }

    public BrokerMessage Apply(BrokerMessage message, TransformContext context)
    {
        var body = ParseObject(message.Body);
        var keep = TransformSettings.List(context.Settings, "keep");
        foreach (var name in body.Select(p => p.Key).ToList())
        {
            if ((keep.Length > 0 && !keep.Contains(name, StringComparer.Ordinal)) || TransformSettings.List(context.Settings, "drop").Contains(name, StringComparer.Ordinal))
            {
                body.Remove(name);
            }
        }

        foreach (var (from, to) in TransformSettings.Pairs(context.Settings, "rename"))
        {
            if (body.TryGetPropertyValue(from, out var value))
            {
                body.Remove(from);
                body[to] = value;
            }
        }

        return message with { Body = JsonSerializer.SerializeToUtf8Bytes(body, CloudEvents.Json), ContentType = "application/json" };
    }

    /// <summary>The body as a JSON object; throws a message fit for a dead-letter reason otherwise.</summary>
    public static JsonObject ParseObject(byte[] body)
    {
        try
        {
            return JsonNode.Parse(body) as JsonObject ?? throw new InvalidOperationException("the body is not a JSON object");
        }
        catch (JsonException exception)
        {
            throw new InvalidOperationException($"the body is not JSON: {exception.Message}", exception);
        }
    }
}
