using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using OrleansBroker.Errors;
using OrleansBroker.Identity;

namespace OrleansBroker.Http.Api;

/// <summary>
/// Errors as <c>application/problem+json</c> (RFC 9457): the HTTP status for the broker's error code, the code itself in
/// <c>code</c>, and the silo's correlation id where it logged a cause.
/// </summary>
internal static class Problems
{
    public static int StatusOf(BrokerErrorCode code) => code switch
    {
        BrokerErrorCode.InvalidName or BrokerErrorCode.InvalidMessage or BrokerErrorCode.InvalidOptions or BrokerErrorCode.InvalidBatch
            or BrokerErrorCode.InvalidFilter => StatusCodes.Status400BadRequest,
        BrokerErrorCode.Unauthenticated => StatusCodes.Status401Unauthorized,
        BrokerErrorCode.Forbidden => StatusCodes.Status403Forbidden,
        BrokerErrorCode.QueueNotFound or BrokerErrorCode.TopicNotFound or BrokerErrorCode.PrincipalNotFound => StatusCodes.Status404NotFound,
        BrokerErrorCode.QueueExistsWithOtherOptions or BrokerErrorCode.LeaseLost or BrokerErrorCode.QueueFull or BrokerErrorCode.WrongPartition
            or BrokerErrorCode.PrincipalExists => StatusCodes.Status409Conflict,
        BrokerErrorCode.MessageTooLarge => StatusCodes.Status413PayloadTooLarge,
        BrokerErrorCode.RateLimited => StatusCodes.Status429TooManyRequests,
        BrokerErrorCode.StorageUnavailable or BrokerErrorCode.SiloLost => StatusCodes.Status503ServiceUnavailable,
        BrokerErrorCode.StorageFull => StatusCodes.Status507InsufficientStorage,
        _ => StatusCodes.Status500InternalServerError,
    };

    /// <summary>The problem for <paramref name="error"/>; names inside the cluster shown as the tenant's own.</summary>
    public static ProblemDetails For(HttpContext http, BrokerException error, int? status = null)
    {
        var detail = error.Message;
        if (http.Items.TryGetValue(BrokerRequest.TenantHeader, out var tenant) && tenant is string { Length: > 0 } name)
        {
            detail = detail.Replace(name + Tenants.Separator, "", StringComparison.Ordinal);
        }

        var problem = new ProblemDetails
        {
            Status = status ?? StatusOf(error.Code),
            Title = Title(error.Code),
            Detail = detail,
            Instance = http.Request.Path,
        };
        problem.Extensions["code"] = error.Code.ToString();
        if (error.CorrelationId is { } correlation)
        {
            problem.Extensions["correlationId"] = correlation;
        }

        return problem;
    }

    public static Task WriteAsync(HttpContext http, BrokerException error, int? status = null)
    {
        var problem = For(http, error, status);
        http.Response.StatusCode = problem.Status!.Value;
        return http.Response.WriteAsJsonAsync(problem, (System.Text.Json.JsonSerializerOptions?)null, "application/problem+json");
    }

    /// <summary>The code in words: <c>QueueExistsWithOtherOptions</c> is "Queue exists with other options".</summary>
    private static string Title(BrokerErrorCode code)
    {
        var name = code.ToString();
        var words = new System.Text.StringBuilder(name.Length + 8);
        foreach (var c in name)
        {
            if (char.IsUpper(c) && words.Length > 0)
            {
                words.Append(' ').Append(char.ToLowerInvariant(c));
            }
            else
            {
                words.Append(c);
            }
        }

        return words.ToString();
    }
}
