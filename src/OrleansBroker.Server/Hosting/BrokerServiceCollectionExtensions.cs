using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using Orleans.Storage;
using OrleansBroker.Server.Errors;
using OrleansBroker.Server.Queues;
using OrleansBroker.Server.Storage;
using OrleansBroker.Server.Telemetry;
using OrleansBroker.Server.Topics.Transforms;

namespace OrleansBroker.Server.Hosting;

/// <summary>Registers the broker on a silo's services: its grains' services, options and validation. Storage: <see cref="BrokerStorageExtensions"/>.</summary>
public static class BrokerServiceCollectionExtensions
{
    /// <summary>
    /// Adds the broker. <paramref name="configure"/> sets <see cref="BrokerOptions"/> (as <c>Configure&lt;BrokerOptions&gt;</c>
    /// does; every call's delegate applies, in order), and the options are validated when the silo starts, so a bad setting
    /// stops it before it serves. The services are registered once, however often this is called. Where messages are kept is
    /// chosen with <c>UseSqliteBrokerStorage</c>, <c>UseAzureBrokerStorage</c> or <c>UseMemoryBrokerStorage</c>; a silo that
    /// chose none fails at start saying so. Clustering is the host's choice and is not configured here.
    /// </summary>
    public static IServiceCollection AddBroker(this IServiceCollection services, Action<BrokerOptions>? configure = null)
    {
        var options = services.AddOptions<BrokerOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        if (services.Any(d => d.ServiceType == typeof(BrokerMarker)))
        {
            return services;
        }

        services.AddSingleton<BrokerMarker>();
        services.AddMetrics();
        services.AddSingleton<BrokerMetrics>();
        services.AddSingleton(sp => new Identity.IdentityDirectory(sp.GetRequiredService<IGrainFactory>(), sp.GetRequiredService<TimeProvider>(),
            sp.GetRequiredService<ILogger<Identity.IdentityDirectory>>()));

        // Validated as the options are made (after every Configure), so nothing reads a bad value; the validator makes it happen at start.
        options.PostConfigure(broker => broker.Validate());
        services.AddSingleton<IConfigurationValidator>(sp => new BrokerConfigurationValidator(() => _ = sp.GetRequiredService<IOptions<BrokerOptions>>().Value));
        services.AddSingleton<IConfigurationValidator>(sp => new BrokerConfigurationValidator(() => BrokerStorageExtensions.EnsureChosen(sp)));
        services.AddSingleton<IMessageTransform, CloudEventsWrapTransform>();
        services.AddSingleton<IMessageTransform, CloudEventsUnwrapTransform>();
        services.AddSingleton<IMessageTransform, JsonProjectTransform>();
        services.AddSingleton<IMessageTransform, HeaderEnrichTransform>();
        services.AddSingleton<IMessageTransform, ContentTypeTransform>();
        services.AddSingleton<TransformRegistry>();
        services.AddPlacementDirector<QueuePartitionPlacement, QueuePartitionPlacementDirector>();
        services.AddReminders();
        services.AddOptions<ReminderOptions>().Configure<IOptions<BrokerOptions>>((reminders, broker) =>
        {
            if (broker.Value.ReminderPeriod < reminders.MinimumReminderPeriod)
            {
                reminders.MinimumReminderPeriod = broker.Value.ReminderPeriod;
            }
        });
        services.AddOptions<GrainCollectionOptions>().Configure<IOptions<BrokerOptions>>((collection, broker) =>
        {
            // Orleans collects idle activations every quantum (1 min) and wants each age above it.
            var idle = broker.Value.QueueIdleTime;
            collection.ClassSpecificCollectionAge[typeof(QueueGrain).FullName!] = idle;
            if (idle <= collection.CollectionQuantum)
            {
                collection.CollectionQuantum = idle / 2;
            }
        });
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<IIncomingGrainCallFilter, BrokerErrorBoundary>();
        services.AddKeyedSingleton<IGrainStorage>(BrokerOptions.StateStorageProviderName, (sp, _) =>
            new ClientSafeGrainStorage(sp.GetRequiredKeyedService<IGrainStorage>(BrokerOptions.StorageProviderName), sp.GetRequiredService<ILogger<ClientSafeGrainStorage>>()));

        // Until a storage is chosen, the reminder table is one that says so (a storage method replaces it; the application's stays).
        if (!services.Any(d => d.ServiceType == typeof(IReminderTable)))
        {
            services.Add(BrokerStorageExtensions.NoStorageReminders);
        }

        // Storage that is not on a local disk: an alarm that never raises (the SQLite storage registers its own).
        services.TryAddSingleton(sp => new DiskSpaceAlarm(null, default, sp.GetRequiredService<ILogger<DiskSpaceAlarm>>()));
        return services;
    }

    private sealed class BrokerMarker;

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

/// <summary>Runs one of the broker's checks when the silo starts, with Orleans' other configuration validators.</summary>
internal sealed class BrokerConfigurationValidator(Action validate) : IConfigurationValidator
{
    public void ValidateConfiguration() => validate();
}
