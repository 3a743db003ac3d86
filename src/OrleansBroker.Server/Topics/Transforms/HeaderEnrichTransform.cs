using System.Text.Json;
using OrleansBroker.Messages;

namespace OrleansBroker.Server.Topics.Transforms;

/// <summary>
/// <c>header-enrich</c>: copies headers into a JSON object body. <c>headers</c>: <c>name</c> (field of the same
/// name) or <c>name:field</c>; a header the message lacks is skipped. A body that is not a JSON object fails the transform.
/// </summary>
internal sealed class HeaderEnrichTransform : IMessageTransform
{
    public string Name => "header-enrich";

    public void Validate(IReadOnlyDictionary<string, string> settings)
    {
        TransformSettings.OnlyKnown(settings, Name, "headers");
        if (TransformSettings.List(settings, "headers").Length == 0)
        {
            throw new ArgumentException($"transform '{Name}' needs headers=name[:field],...");
        }
    }

    public BrokerMessage Apply(BrokerMessage message, TransformContext context)
    {
        var body = JsonProjectTransform.ParseObject(message.Body);
        foreach (var (header, field) in TransformSettings.Pairs(context.Settings, "headers"))
        {
            if (message.Headers?.TryGetValue(header, out var value) == true)
            {
                body[field] = value;
            }
        }

        return message with { Body = JsonSerializer.SerializeToUtf8Bytes(body, CloudEvents.Json), ContentType = "application/json" };
    }
}
