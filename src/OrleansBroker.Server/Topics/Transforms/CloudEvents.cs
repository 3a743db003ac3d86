namespace OrleansBroker.Server.Topics.Transforms;

/// <summary>CloudEvents 1.0 names the two CloudEvents transforms share.</summary>
internal static class CloudEvents
{
    public const string SpecVersion = "1.0";
    public const string StructuredContentType = "application/cloudevents+json";
    public const string HeaderPrefix = "ce-";

    /// <summary>The binary-mode header of an attribute.</summary>
    public static string Header(string attribute) => HeaderPrefix + attribute;

    /// <summary>JSON as the transforms write it: quotes and non-ASCII kept readable (bodies are not embedded in HTML).</summary>
    public static readonly System.Text.Json.JsonSerializerOptions Json = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    public static bool IsJson(string? contentType) =>
        contentType is not null && (contentType.StartsWith("application/json", StringComparison.OrdinalIgnoreCase)
            || contentType.Split(';')[0].EndsWith("+json", StringComparison.OrdinalIgnoreCase));
}
