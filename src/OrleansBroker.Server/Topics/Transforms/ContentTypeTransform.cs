using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using OrleansBroker.Messages;

namespace OrleansBroker.Server.Topics.Transforms;

/// <summary>
/// <c>content-type</c>: converts where no information is lost. <c>to=application/json</c>: text becomes a JSON
/// string. <c>to=text/plain</c>: a JSON string becomes its text. A body already of the target type passes; any
/// other conversion fails the transform.
/// </summary>
internal sealed class ContentTypeTransform : IMessageTransform
{
    private const string Json = "application/json";
    private const string Text = "text/plain";

    public string Name => "content-type";

    public void Validate(IReadOnlyDictionary<string, string> settings)
    {
        TransformSettings.OnlyKnown(settings, Name, "to");
        if (!settings.TryGetValue("to", out var to) || to is not (Json or Text))
        {
            throw new ArgumentException($"transform '{Name}' needs to={Json} or to={Text}");
        }
    }

    public BrokerMessage Apply(BrokerMessage message, TransformContext context)
    {
        var to = context.Settings["to"];
        var from = message.ContentType?.Split(';')[0].Trim();
        if (string.Equals(from, to, StringComparison.OrdinalIgnoreCase))
        {
            return message;
        }

        if (to == Json && from?.StartsWith("text/", StringComparison.OrdinalIgnoreCase) == true)
        {
            return message with { Body = JsonSerializer.SerializeToUtf8Bytes(Encoding.UTF8.GetString(message.Body), CloudEvents.Json), ContentType = Json };
        }

        if (to == Text && CloudEvents.IsJson(from) && JsonNode.Parse(message.Body) is JsonValue value && value.TryGetValue<string>(out var text))
        {
            return message with { Body = Encoding.UTF8.GetBytes(text), ContentType = Text + "; charset=utf-8" };
        }

        throw new InvalidOperationException($"cannot convert '{from ?? "(no content type)"}' to '{to}' without loss");
    }
}
