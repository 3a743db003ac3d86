using Azure.Core;
using Azure.Data.Tables;
using Azure.Storage.Blobs;
using OrleansBroker.Errors;

namespace OrleansBroker.Server.Hosting;

/// <summary>
/// Azure Storage for a cluster (<see cref="BrokerStorageExtensions.UseAzureBrokerStorage(ISiloBuilder, Action{AzureBrokerStorageOptions})"/>):
/// queue logs and metadata in blobs, reminders in a table, shared by every silo. Either a connection string, or the blob and
/// table service addresses with a <see cref="TokenCredential"/> (managed identity, workload identity: <c>DefaultAzureCredential</c>).
/// Properties but <see cref="Credential"/> are bound from the key of their name in the <c>Broker</c> section.
/// </summary>
public sealed class AzureBrokerStorageOptions
{
    /// <summary>Connection string of the storage account (Azurite works). Either this or the service addresses with a credential.</summary>
    public string? AzureConnectionString { get; set; }

    /// <summary>Blob service address (<c>https://ACCOUNT.blob.core.windows.net</c>), with <see cref="Credential"/>.</summary>
    public Uri? AzureBlobServiceUri { get; set; }

    /// <summary>Table service address (<c>https://ACCOUNT.table.core.windows.net</c>), with <see cref="Credential"/>.</summary>
    public Uri? AzureTableServiceUri { get; set; }

    /// <summary>The identity the silo acts as with the service addresses; set in code, never read from configuration.</summary>
    public TokenCredential? Credential { get; set; }

    /// <summary>Blob container for queue logs. Default <c>broker</c>.</summary>
    public string AzureContainerName { get; set; } = "broker";

    /// <summary>Table for reminders. Default <c>BrokerReminders</c>.</summary>
    public string AzureReminderTableName { get; set; } = "BrokerReminders";

    /// <summary>The setting that names the account, as errors quote it (never a secret).</summary>
    public string Describe() => Credential is null ? "Broker:AzureConnectionString" : $"Broker:AzureBlobServiceUri ({AzureBlobServiceUri}, with a credential)";

    internal BlobServiceClient CreateBlobServiceClient(BlobClientOptions? options = null) => Credential is null
        ? new BlobServiceClient(AzureConnectionString, options)
        : new BlobServiceClient(AzureBlobServiceUri, Credential, options);

    internal TableServiceClient CreateTableServiceClient() => Credential is null
        ? new TableServiceClient(AzureConnectionString)
        : new TableServiceClient(AzureTableServiceUri, Credential);

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) naming the first bad setting.</summary>
    public void Validate()
    {
        if (Credential is not null)
        {
            if (AzureBlobServiceUri is null || AzureTableServiceUri is null)
            {
                Fail("Azure storage with a credential needs Broker:AzureBlobServiceUri and Broker:AzureTableServiceUri.");
            }

            return;
        }

        if (string.IsNullOrWhiteSpace(AzureConnectionString))
        {
            Fail("Azure storage needs Broker:AzureConnectionString, or the service addresses with a credential.");
        }

        try
        {
            // Reads the string only (no call is made): a malformed one is a setting error here, not a crash later.
            _ = new BlobServiceClient(AzureConnectionString);
        }
        catch (Exception exception) when (exception is FormatException or ArgumentException or InvalidOperationException)
        {
            Fail($"Broker:AzureConnectionString is not an Azure Storage connection string: {exception.Message}");
        }
    }

    private static void Fail(string message) => throw new BrokerException(BrokerErrorCode.InvalidOptions, message);
}
