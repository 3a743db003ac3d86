using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using OrleansBroker.Errors;

namespace OrleansBroker.Http.Api;

/// <summary>
/// Reads and writes the API's JSON: camelCase names, enums as kebab-case strings (<c>reject-publish</c>), durations of
/// options as <c>hh:mm:ss</c>, unknown fields refused (a misspelt option is an error, not a default).
/// </summary>
internal static class JsonBodies
{
    /// <summary>How request bodies are read: strict (unknown fields, a null where a value is needed, a missing required field are errors).</summary>
    public static readonly JsonSerializerOptions Options = Strict(Configure(new JsonSerializerOptions(JsonSerializerDefaults.Web)));

    /// <summary>What reading and writing share: camelCase, kebab-case enums, no null fields written.</summary>
    public static JsonSerializerOptions Configure(JsonSerializerOptions options)
    {
        options.Converters.Add(new JsonStringEnumConverter(JsonNamingPolicy.KebabCaseLower, allowIntegerValues: false));
        options.DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull;
        return options;
    }

    private static JsonSerializerOptions Strict(JsonSerializerOptions options)
    {
        options.UnmappedMemberHandling = JsonUnmappedMemberHandling.Disallow;
        options.RespectNullableAnnotations = true;
        options.RespectRequiredConstructorParameters = true;
        return options;
    }

    /// <summary>The request's JSON body as <typeparamref name="T"/>; 415 unless it is JSON, 400 naming what is wrong in it.</summary>
    public static async Task<T> ReadAsync<T>(HttpRequest request, string what, BrokerErrorCode code = BrokerErrorCode.InvalidMessage)
    {
        if (!request.HasJsonContentType())
        {
            throw new ProblemException(StatusCodes.Status415UnsupportedMediaType,
                new BrokerException(BrokerErrorCode.InvalidMessage, $"Send {what} as JSON (Content-Type: application/json)."));
        }

        try
        {
            return await JsonSerializer.DeserializeAsync<T>(request.Body, Options, request.HttpContext.RequestAborted)
                ?? throw new BrokerException(code, $"The body is null; send {what}.");
        }
        catch (JsonException exception)
        {
            throw new BrokerException(code, $"The body is not valid {what}: {Explain(exception)}.");
        }
    }

    /// <summary>What is wrong, in the request's terms (field paths), without .NET type names.</summary>
    private static string Explain(JsonException exception)
    {
        const string Missing = "missing required properties including: ";
        var message = exception.Message;
        var path = exception.Path is { Length: > 1 } p ? p : null;
        return message.Contains(Missing, StringComparison.Ordinal) ? $"required field {message[(message.IndexOf(Missing, StringComparison.Ordinal) + Missing.Length)..].TrimEnd('.')} is missing"
            : message.Contains("could not be mapped", StringComparison.Ordinal) && path is not null ? $"unknown field {path}"
            : path is not null ? $"the value at {path} is missing, of the wrong type or malformed"
            : "it is not well-formed JSON";
    }
}

/// <summary>A broker error answered with a status other than its code's usual one (415 for a body that is not JSON).</summary>
internal sealed class ProblemException(int status, BrokerException error) : Exception(error.Message, error)
{
    public int Status { get; } = status;

    public BrokerException Error { get; } = error;
}
