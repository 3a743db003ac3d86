using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using OrleansBroker.Errors;

namespace OrleansBroker.Http.Api;

/// <summary>
/// Every error a request meets becomes problem+json: a broker error with its code's status, a malformed request with 400
/// (413 when too large), anything unexpected with 500 and a correlation id the silo's log holds the cause under.
/// </summary>
internal sealed partial class ErrorBoundary(RequestDelegate next, ILogger<ErrorBoundary> logger)
{
    public async Task InvokeAsync(HttpContext http)
    {
        try
        {
            await next(http);
        }
        catch (Exception exception) when (!http.Response.HasStarted && !(exception is OperationCanceledException && http.RequestAborted.IsCancellationRequested))
        {
            await WriteAsync(http, exception);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            // The caller went away; nobody reads an answer.
        }
    }

    private Task WriteAsync(HttpContext http, Exception exception)
    {
        switch (exception)
        {
            case ProblemException problem:
                return Problems.WriteAsync(http, problem.Error, problem.Status);
            case BrokerException error:
                return Problems.WriteAsync(http, error);
            case BadHttpRequestException bad:
                var code = bad.StatusCode == StatusCodes.Status413PayloadTooLarge ? BrokerErrorCode.MessageTooLarge : BrokerErrorCode.InvalidMessage;
                return Problems.WriteAsync(http, new BrokerException(code, bad.Message), bad.StatusCode);
            case TimeoutException:
                return Problems.WriteAsync(http, new BrokerException(BrokerErrorCode.Internal, "The broker did not answer in time; retry."),
                    StatusCodes.Status503ServiceUnavailable);
            default:
                var correlation = Guid.NewGuid().ToString("N")[..12];
                LogUnexpected(logger, exception, http.Request.Method, http.Request.Path, correlation);
                return Problems.WriteAsync(http, new BrokerException(BrokerErrorCode.Internal,
                    $"The request failed in a way the broker did not expect; the silo's log has the cause under {correlation}.", correlation));
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "HTTP {Method} {Path} failed; the caller was told {CorrelationId}")]
    private static partial void LogUnexpected(ILogger logger, Exception exception, string method, string path, string correlationId);
}
