using Azure;
using Microsoft.Extensions.Logging;
using OrleansBroker.Errors;

namespace OrleansBroker.Server.Hosting;

/// <summary>
/// Before anything of the silo uses Azure Storage: one call to its blob and its table service with the configured
/// connection string or credential, so that a wrong account key or an address nothing answers on stops the silo at start with one
/// line naming the account (Orleans' reminder and membership tables would retry it for ever).
/// The container for queue logs is created here if it is missing, as the grain storage would.
/// </summary>
internal sealed partial class AzureStorageCheck(AzureBrokerStorageOptions options, ILogger<AzureStorageCheck> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>How long the check waits for Azure Storage to answer at all.</summary>
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(30);

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(AzureStorageCheck), ServiceLifecycleStage.RuntimeInitialize - 1, CheckAsync);

    private async Task CheckAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(Timeout);
        var blobs = options.CreateBlobServiceClient();

        // The client library retries a refused connection for half a minute; a port nothing listens on is said at once.
        var (probe, reason) = await TcpProbe.ConnectAsync(blobs.Uri.Host, blobs.Uri.Port, Timeout, timeout.Token).ConfigureAwait(false);
        if (probe == TcpProbeResult.Refused)
        {
            throw Refused($"Azure Storage at {blobs.Uri} did not answer: {blobs.Uri.Host}:{blobs.Uri.Port}: {reason}");
        }

        try
        {
            await blobs.GetBlobContainerClient(options.AzureContainerName).CreateIfNotExistsAsync(cancellationToken: timeout.Token).ConfigureAwait(false);
            await options.CreateTableServiceClient().GetPropertiesAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (RequestFailedException exception) when (exception.Status is 401 or 403)
        {
            throw Refused($"Azure Storage at {blobs.Uri} refused the credentials (HTTP {exception.Status} {exception.ErrorCode}): check the account name and key, or the identity's roles.");
        }
        catch (RequestFailedException exception) when (exception.Status != 0)
        {
            throw Refused($"Azure Storage at {blobs.Uri} failed the start-up check: HTTP {exception.Status} {exception.ErrorCode} {FirstLine(exception.Message)}");
        }
        catch (Exception exception) when (exception is RequestFailedException or AggregateException or OperationCanceledException && !cancellationToken.IsCancellationRequested)
        {
            throw Refused($"Azure Storage at {blobs.Uri} did not answer within {Timeout.TotalSeconds:F0} s: {FirstLine(exception.GetBaseException().Message)}");
        }

        LogReachable(blobs.Uri);
    }

    private BrokerException Refused(string problem) =>
        new(BrokerErrorCode.InvalidOptions, $"{options.Describe()}: {problem}");

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    [LoggerMessage(Level = LogLevel.Information, Message = "Azure Storage at {Uri} answers with the configured credentials")]
    private partial void LogReachable(Uri uri);
}
