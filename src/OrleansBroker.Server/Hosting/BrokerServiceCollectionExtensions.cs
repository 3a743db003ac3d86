using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Runtime.Hosting;
using Orleans.Serialization;
using Orleans.Storage;
using OrleansBroker.Server.Errors;
using OrleansBroker.Server.Queues;
using OrleansBroker.Server.Storage;
using OrleansBroker.Server.Topics.Transforms;

namespace OrleansBroker.Server.Hosting;

/// <summary>Registers the broker on a silo's services: its grains, its storage provider and its reminder table.</summary>
public static class BrokerServiceCollectionExtensions
{
    /// <summary>
    /// Adds the broker. <paramref name="configure"/> sets <see cref="BrokerOptions"/>, which are
    /// validated here, so a bad setting stops the silo before it starts. Calling it again is a no-op.
    /// Clustering is the host's choice and is not configured here.
    /// </summary>
    public static IServiceCollection AddBroker(this IServiceCollection services, Action<BrokerOptions>? configure = null)
    {
        if (services.Any(d => d.ServiceType == typeof(BrokerMarker)))
        {
            return services;
        }

        var options = new BrokerOptions();
        configure?.Invoke(options);
        options.Validate();

        services.AddSingleton<BrokerMarker>();
        services.AddSingleton<IMessageTransform, CloudEventsWrapTransform>();
        services.AddSingleton<IMessageTransform, CloudEventsUnwrapTransform>();
        services.AddSingleton<IMessageTransform, JsonProjectTransform>();
        services.AddSingleton<IMessageTransform, HeaderEnrichTransform>();
        services.AddSingleton<IMessageTransform, ContentTypeTransform>();
        services.AddSingleton<TransformRegistry>();
        services.AddPlacementDirector<QueuePartitionPlacement, QueuePartitionPlacementDirector>();
        services.TryAddSingleton(Options.Create(options));
        services.AddReminders();
        services.Configure<ReminderOptions>(reminders =>
        {
            if (options.ReminderPeriod < reminders.MinimumReminderPeriod)
            {
                reminders.MinimumReminderPeriod = options.ReminderPeriod;
            }
        });
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IIncomingGrainCallFilter, BrokerErrorBoundary>();

        switch (options.Storage)
        {
            case BrokerStorage.Sqlite:
                services.AddSingleton(sp => new DiskSpaceAlarm(Path.GetDirectoryName(options.SqlitePath), options.ParsedDiskFreeLimit, sp.GetRequiredService<ILogger<DiskSpaceAlarm>>()));
                services.AddSingleton(sp => new SqliteStore(options.SqlitePath, options.SqliteMmapBytes, sp.GetRequiredService<DiskSpaceAlarm>(),
                    options.DiskCheckInterval, options.DiskReserveBytes, sp.GetRequiredService<ILogger<SqliteStore>>()));
                services.AddGrainStorage(BrokerOptions.StorageProviderName, (sp, _) =>
                    new SqliteGrainStorage(sp.GetRequiredService<SqliteStore>(), sp.GetRequiredService<Serializer>()));
                services.AddSingleton<IReminderTable, SqliteReminderTable>();
                break;

            case BrokerStorage.Azure:
                var connectionString = options.AzureConnectionString!;
                services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => new AzureStorageCheck(options, sp.GetRequiredService<ILogger<AzureStorageCheck>>()));
                services.AddAzureBlobGrainStorage(BrokerOptions.StorageProviderName, (OptionsBuilder<AzureBlobStorageOptions> builder) =>
                    builder.Configure<Serializer>((blob, serializer) =>
                    {
                        blob.BlobServiceClient = new BlobServiceClient(connectionString, AzureBlobClientOptions());
                        blob.ContainerName = options.AzureContainerName;
                        blob.DeleteStateOnClear = true;
                        blob.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
                    }));
                services.UseAzureTableReminderService(reminders =>
                {
                    reminders.TableServiceClient = new Azure.Data.Tables.TableServiceClient(connectionString);
                    reminders.TableName = options.AzureReminderTableName;
                });
                break;

            case BrokerStorage.Memory:
                services.AddGrainStorage(BrokerOptions.StorageProviderName, MemoryGrainStorageFactory.Create);
                services.AddSingleton<IReminderTable, MemoryReminderTable>();
                break;
        }

        services.AddKeyedSingleton<IGrainStorage>(BrokerOptions.StateStorageProviderName, (sp, _) =>
            new ClientSafeGrainStorage(sp.GetRequiredKeyedService<IGrainStorage>(BrokerOptions.StorageProviderName), sp.GetRequiredService<ILogger<ClientSafeGrainStorage>>()));

        // Storage that is not on a local disk: an alarm that never raises.
        services.TryAddSingleton(sp => new DiskSpaceAlarm(null, default, sp.GetRequiredService<ILogger<DiskSpaceAlarm>>()));
        return services;
    }

    private sealed class BrokerMarker;

    /// <summary>
    /// Azure Storage calls of the message log: 3 tries (0.5 s, then 1 s apart) of at most 8 s each, so that an outage
    /// reaches its caller as <c>StorageUnavailable</c> within about 25 s, before the caller's 30 s response timeout, and
    /// the broker's own retries (settles, producers publishing again) take over. The SDK's default waits longer.
    /// </summary>
    private static BlobClientOptions AzureBlobClientOptions()
    {
        var options = new BlobClientOptions();
        options.Retry.MaxRetries = 2;
        options.Retry.Mode = Azure.Core.RetryMode.Exponential;
        options.Retry.Delay = TimeSpan.FromMilliseconds(500);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(2);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(8);
        return options;
    }

    /// <summary>
    /// Registers a message transform that topic subscriptions can name (<see cref="IMessageTransform.Name"/>).
    /// Register it on every silo of the cluster.
    /// </summary>
    public static IServiceCollection AddBrokerTransform<T>(this IServiceCollection services)
        where T : class, IMessageTransform
    {
        services.AddSingleton<IMessageTransform, T>();
        return services;
    }
}
