using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Orleans.Providers;
using Orleans.Runtime.Providers;
using Orleans.Storage;
using Orleans.Streams;
using OrleansBroker.Client;
using OrleansBroker.Client.Hosting;

namespace OrleansBroker.Streaming;

/// <summary>Registers a broker stream provider on a silo (consumers and producers) or a client (producers).</summary>
public static class BrokerStreamingExtensions
{
    /// <summary>The grain storage provider the broker registers (<c>AddBroker</c>), which the stream pub-sub uses unless the silo has a <c>PubSubStore</c>.</summary>
    public const string BrokerStorageProviderName = "broker";

    /// <summary>
    /// Adds the stream provider <paramref name="name"/> to a silo that runs the broker (<c>AddBroker</c>): grains get
    /// <c>this.GetStreamProvider(name)</c> streams whose namespace is a broker topic, with implicit
    /// (<c>[ImplicitStreamSubscription("topic")]</c>) and explicit subscriptions. Each topic in
    /// <see cref="BrokerStreamOptions.Topics"/> feeds its streams from one durable subscription, created before the silo
    /// reports started (so nothing published right after start is missed), and events survive silo
    /// restarts, a handler that throws is retried with the subscription's backoff, and one that keeps failing is
    /// dead-lettered. Explicit subscriptions are kept in the broker's storage unless the silo registers a
    /// <c>PubSubStore</c> of its own. Options are validated here: a bad setting stops the silo before it starts.
    /// </summary>
    public static ISiloBuilder AddBrokerStreams(this ISiloBuilder builder, string name, Action<BrokerStreamOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = Configure(builder.Services, name, configure);
        builder.Services.AddKeyedSingleton(name, (services, _) => new BrokerStreamSubscriptions(name, options,
            services.GetRequiredService<IBrokerAdministrationClient>(), services.GetRequiredService<ILogger<BrokerStreamSubscriptions>>()));
        builder.Services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(services => services.GetRequiredKeyedService<BrokerStreamSubscriptions>(name));
        builder.Services.TryAddKeyedSingleton<IGrainStorage>(ProviderConstants.DEFAULT_PUBSUB_PROVIDER_NAME,
            (services, _) => services.GetRequiredKeyedService<IGrainStorage>(BrokerStorageProviderName));
        builder.AddPersistentStreams(name, BrokerQueueAdapterFactory.Create, stream =>
        {
            stream.ConfigureStreamPubSub(StreamPubSubType.ExplicitGrainBasedAndImplicit);

            // One delivery attempt per broker delivery: a failure goes straight back to the broker, whose retry policy,
            // attempt count and dead-letter queue are durable and visible (obroker queue info), unlike in-memory retries.
            // The agent checks its time limit before each try, after the backoff: a backoff longer than the limit means
            // exactly one try (a zero limit would mean no limit at all).
            stream.ConfigurePullingAgent(agent => agent.Configure(o => o.MaxEventDeliveryTime = SingleTryWindow));
            stream.ConfigureBackoffProvider((_, _) => SingleTryBackoff.Instance);
        });
        return builder;
    }

    /// <summary>
    /// Adds the stream provider <paramref name="name"/> to an Orleans client, to produce events into broker topics
    /// (<c>GetStream&lt;T&gt;(StreamId.Create("topic", key)).OnNextAsync(...)</c>). <see cref="BrokerStreamOptions.Topics"/> is not used here.
    /// </summary>
    public static IClientBuilder AddBrokerStreams(this IClientBuilder builder, string name, Action<BrokerStreamOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        Configure(builder.Services, name, configure);
        builder.AddPersistentStreams(name, BrokerQueueAdapterFactory.Create, stream => stream.ConfigureStreamPubSub(StreamPubSubType.ExplicitGrainBasedAndImplicit));
        return builder;
    }

    private static BrokerStreamOptions Configure(IServiceCollection services, string name, Action<BrokerStreamOptions>? configure)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        var options = new BrokerStreamOptions();
        configure?.Invoke(options);
        options.Validate(name);
        services.AddBrokerClient();
        services.AddKeyedSingleton(name, options);
        return options;
    }

    private static readonly TimeSpan SingleTryWindow = TimeSpan.FromMilliseconds(100);

    private sealed class SingleTryBackoff : IMessageDeliveryBackoffProvider
    {
        public static readonly SingleTryBackoff Instance = new();

        public TimeSpan Next(int attempt) => SingleTryWindow * 2;
    }
}
