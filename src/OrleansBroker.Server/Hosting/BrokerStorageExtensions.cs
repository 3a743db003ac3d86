using Azure.Core;
using Azure.Storage.Blobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using Orleans.Configuration;
using Orleans.Runtime.Hosting;
using Orleans.Serialization;
using Orleans.Storage;
using OrleansBroker.Errors;
using OrleansBroker.Server.Storage;
using OrleansBroker.Server.Storage.Postgres;

namespace OrleansBroker.Server.Hosting;

/// <summary>
/// Where a silo keeps queue logs, metadata and reminders: choose one per silo, beside <c>AddBroker</c>. Each may be called again
/// to configure more; choosing a second kind fails. A reminder table the application registered itself is left in place.
/// </summary>
public static class BrokerStorageExtensions
{
    /// <summary>The embedded default: one SQLite file in <see cref="SqliteBrokerStorageOptions.DataDirectory"/>, for one silo.</summary>
    public static ISiloBuilder UseSqliteBrokerStorage(this ISiloBuilder silo, Action<SqliteBrokerStorageOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(silo);
        var services = silo.Services;
        var options = services.AddOptions<SqliteBrokerStorageOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        if (!Choose(services, BrokerStorage.Sqlite))
        {
            return silo;
        }

        // Validated as the options are made, so nothing reads a bad value; the validator makes it happen at start.
        options.PostConfigure(sqlite => sqlite.Validate());
        services.AddSingleton<IConfigurationValidator>(sp => new BrokerConfigurationValidator(() => _ = Sqlite(sp)));
        services.AddSingleton(sp => new DiskSpaceAlarm(Path.GetDirectoryName(Sqlite(sp).SqlitePath), Sqlite(sp).ParsedDiskFreeLimit, sp.GetRequiredService<ILogger<DiskSpaceAlarm>>()));
        services.AddSingleton(sp =>
        {
            var sqlite = Sqlite(sp);
            return new SqliteStore(sqlite.SqlitePath, sqlite.SqliteMmapBytes, sp.GetRequiredService<DiskSpaceAlarm>(), sqlite.DiskCheckInterval, sqlite.DiskReserveBytes,
                sp.GetRequiredService<ILogger<SqliteStore>>());
        });
        services.AddGrainStorage(BrokerOptions.StorageProviderName, (sp, _) => new SqliteGrainStorage(sp.GetRequiredService<SqliteStore>(), sp.GetRequiredService<Serializer>()));
        UnlessTheApplicationHasOne(services, () => services.AddSingleton<IReminderTable, SqliteReminderTable>());
        return silo;
    }

    /// <summary>Azure Storage from a connection string (Azurite works): for a cluster, every silo on the same account.</summary>
    public static ISiloBuilder UseAzureBrokerStorage(this ISiloBuilder silo, string connectionString, Action<AzureBrokerStorageOptions>? configure = null) =>
        silo.UseAzureBrokerStorage(options =>
        {
            options.AzureConnectionString = connectionString;
            configure?.Invoke(options);
        });

    /// <summary>
    /// Azure Storage with a <see cref="TokenCredential"/> instead of an account key: managed identity, workload identity
    /// (<c>DefaultAzureCredential</c>). The identity needs the Storage Blob Data Contributor and Storage Table Data Contributor roles.
    /// </summary>
    public static ISiloBuilder UseAzureBrokerStorage(this ISiloBuilder silo, Uri blobServiceUri, Uri tableServiceUri, TokenCredential credential,
        Action<AzureBrokerStorageOptions>? configure = null) =>
        silo.UseAzureBrokerStorage(options =>
        {
            options.AzureBlobServiceUri = blobServiceUri;
            options.AzureTableServiceUri = tableServiceUri;
            options.Credential = credential;
            configure?.Invoke(options);
        });

    /// <summary>Azure Storage configured in full by <paramref name="configure"/> (a connection string, or service addresses with a credential).</summary>
    public static ISiloBuilder UseAzureBrokerStorage(this ISiloBuilder silo, Action<AzureBrokerStorageOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(configure);
        var services = silo.Services;
        var options = services.AddOptions<AzureBrokerStorageOptions>().Configure(configure);
        if (!Choose(services, BrokerStorage.Azure))
        {
            return silo;
        }

        options.PostConfigure(azure => azure.Validate());
        services.AddSingleton<IConfigurationValidator>(sp => new BrokerConfigurationValidator(() => _ = Azure(sp)));
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => new AzureStorageCheck(Azure(sp), sp.GetRequiredService<ILogger<AzureStorageCheck>>()));
        services.AddAzureBlobGrainStorage(BrokerOptions.StorageProviderName, (OptionsBuilder<AzureBlobStorageOptions> builder) =>
            builder.Configure<Serializer, IOptions<AzureBrokerStorageOptions>>((blob, serializer, azure) =>
            {
                blob.BlobServiceClient = azure.Value.CreateBlobServiceClient(AzureBlobClientOptions());
                blob.ContainerName = azure.Value.AzureContainerName;
                blob.DeleteStateOnClear = true;
                blob.GrainStorageSerializer = new OrleansGrainStorageSerializer(serializer);
            }));
        UnlessTheApplicationHasOne(services, () => services.UseAzureTableReminderService(reminders =>
            reminders.Configure<IOptions<AzureBrokerStorageOptions>>((table, azure) =>
            {
                table.TableServiceClient = azure.Value.CreateTableServiceClient();
                table.TableName = azure.Value.AzureReminderTableName;
            })));
        return silo;
    }

    /// <summary>PostgreSQL from a connection string: for a self-hosted cluster, every silo on the same database.</summary>
    public static ISiloBuilder UsePostgresBrokerStorage(this ISiloBuilder silo, string connectionString, Action<PostgresBrokerStorageOptions>? configure = null) =>
        silo.UsePostgresBrokerStorage(options =>
        {
            options.PostgresConnectionString = connectionString;
            configure?.Invoke(options);
        });

    /// <summary>
    /// PostgreSQL configured in full by <paramref name="configure"/>: queue logs and metadata in the broker's table, reminders in
    /// Orleans' ADO.NET reminder table, both created at start when missing. Clustering is separate (<c>Broker:Clustering=postgres</c>
    /// in silo-host, or Orleans' <c>UseAdoNetClustering</c> with the invariant <c>Npgsql</c>).
    /// </summary>
    public static ISiloBuilder UsePostgresBrokerStorage(this ISiloBuilder silo, Action<PostgresBrokerStorageOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(silo);
        ArgumentNullException.ThrowIfNull(configure);
        var services = silo.Services;
        var options = services.AddOptions<PostgresBrokerStorageOptions>().Configure(configure);
        if (!Choose(services, BrokerStorage.Postgres))
        {
            return silo;
        }

        options.PostConfigure(postgres => postgres.Validate());
        services.AddSingleton<IConfigurationValidator>(sp => new BrokerConfigurationValidator(() => _ = Postgres(sp)));
        services.AddSingleton(sp => new PostgresStore(NpgsqlDataSource.Create(Postgres(sp).StoreConnectionString()), Postgres(sp).PostgresCommandTimeout,
            sp.GetRequiredService<ILogger<PostgresStore>>()));
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => new PostgresStartCheck(Postgres(sp), sp.GetRequiredService<PostgresStore>(),
            sp.GetRequiredService<ILogger<PostgresStartCheck>>()));
        services.AddGrainStorage(BrokerOptions.StorageProviderName, (sp, _) => new PostgresGrainStorage(sp.GetRequiredService<PostgresStore>(), sp.GetRequiredService<Serializer>()));
        UnlessTheApplicationHasOne(services, () => services.UseAdoNetReminderService(reminders =>
            reminders.Configure<IOptions<PostgresBrokerStorageOptions>>((table, postgres) =>
            {
                table.Invariant = PostgresStartCheck.Invariant;
                table.ConnectionString = postgres.Value.PostgresConnectionString;
            })));
        return silo;
    }

    /// <summary>In memory, lost when the silo stops: for tests of logic and for benchmarks, never for messages that matter.</summary>
    public static ISiloBuilder UseMemoryBrokerStorage(this ISiloBuilder silo)
    {
        ArgumentNullException.ThrowIfNull(silo);
        if (Choose(silo.Services, BrokerStorage.Memory))
        {
            silo.Services.AddGrainStorage(BrokerOptions.StorageProviderName, MemoryGrainStorageFactory.Create);
            UnlessTheApplicationHasOne(silo.Services, () => silo.Services.AddSingleton<IReminderTable, MemoryReminderTable>());
        }

        return silo;
    }

    /// <summary>The storage this silo chose, if it chose one.</summary>
    internal static BrokerStorage? Chosen(IServiceProvider services) => services.GetService<StorageChoice>()?.Storage;

    /// <summary>Fails the start of a silo that added the broker but chose no storage.</summary>
    internal static void EnsureChosen(IServiceProvider services)
    {
        if (Chosen(services) is null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                "The broker has no storage: call UseSqliteBrokerStorage(), UseAzureBrokerStorage(...), UsePostgresBrokerStorage(...) or UseMemoryBrokerStorage() on the silo builder.");
        }
    }

    /// <summary>True the first time <paramref name="storage"/> is chosen; false when it was already; throws when another one was.</summary>
    private static bool Choose(IServiceCollection services, BrokerStorage storage)
    {
        var chosen = services.Select(d => d.ImplementationInstance).OfType<StorageChoice>().FirstOrDefault();
        if (chosen is null)
        {
            services.AddSingleton(new StorageChoice(storage));
            return true;
        }

        return chosen.Storage == storage ? false : throw new BrokerException(BrokerErrorCode.InvalidOptions,
            $"The broker's storage is chosen twice ({chosen.Storage}, then {storage}); a silo keeps its messages in one place.");
    }

    /// <summary>The reminder table of a broker with no storage chosen yet: resolving it fails saying what to call.</summary>
    internal static readonly ServiceDescriptor NoStorageReminders = ServiceDescriptor.Singleton<IReminderTable>(services =>
    {
        EnsureChosen(services);
        throw new InvalidOperationException("A broker storage was chosen but registered no reminder table.");
    });

    /// <summary>Registers the broker's reminder table only when the application has not registered one of its own.</summary>
    private static void UnlessTheApplicationHasOne(IServiceCollection services, Action register)
    {
        services.Remove(NoStorageReminders);
        if (!services.Any(d => d.ServiceType == typeof(IReminderTable)))
        {
            register();
        }
    }

    private static SqliteBrokerStorageOptions Sqlite(IServiceProvider services) => services.GetRequiredService<IOptions<SqliteBrokerStorageOptions>>().Value;

    private static PostgresBrokerStorageOptions Postgres(IServiceProvider services) => services.GetRequiredService<IOptions<PostgresBrokerStorageOptions>>().Value;

    private static AzureBrokerStorageOptions Azure(IServiceProvider services) => services.GetRequiredService<IOptions<AzureBrokerStorageOptions>>().Value;

    /// <summary>
    /// Azure Storage calls of the message log: 3 tries (0.5 s, then 1 s apart) of at most 8 s each, so that an outage
    /// reaches its caller as <c>StorageUnavailable</c> within about 25 s, before the caller's 30 s response timeout, and
    /// the broker's own retries (settles, producers publishing again) take over. The SDK's default waits longer.
    /// </summary>
    private static BlobClientOptions AzureBlobClientOptions()
    {
        var options = new BlobClientOptions();
        options.Retry.MaxRetries = 2;
        options.Retry.Mode = RetryMode.Exponential;
        options.Retry.Delay = TimeSpan.FromMilliseconds(500);
        options.Retry.MaxDelay = TimeSpan.FromSeconds(2);
        options.Retry.NetworkTimeout = TimeSpan.FromSeconds(8);
        return options;
    }

    private sealed record StorageChoice(BrokerStorage Storage);
}
