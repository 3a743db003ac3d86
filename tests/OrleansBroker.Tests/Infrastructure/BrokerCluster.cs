using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Orleans.TestingHost;
using OrleansBroker.Client;
using OrleansBroker.Client.Hosting;
using OrleansBroker.Server.Hosting;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>
/// An in-process cluster configured through the production <c>AddBroker()</c>, on real storage
/// (a SQLite file in a folder of its own by default), with a client that has <c>AddBrokerClient()</c>.
/// Timings are shortened (lease checks, consumer renewals) so tests wait seconds, not minutes.
/// </summary>
public sealed class BrokerCluster : IAsyncDisposable
{
    private readonly TestData _data;

    private BrokerCluster(InProcessTestCluster cluster, TestData data)
    {
        Cluster = cluster;
        _data = data;
    }

    public InProcessTestCluster Cluster { get; }

    public IBrokerClient Broker => Cluster.Client.ServiceProvider.GetRequiredService<IBrokerClient>();

    public IBrokerAdministrationClient Admin => Cluster.Client.ServiceProvider.GetRequiredService<IBrokerAdministrationClient>();

    public IGrainFactory Grains => Cluster.Client;

    /// <summary>
    /// Starts silos with the broker on SQLite in a fresh folder (<paramref name="sqlite"/> may change its options), or on the
    /// storage <paramref name="storage"/> chooses; <paramref name="silo"/> runs after, so a test may replace what was registered.
    /// </summary>
    public static async Task<BrokerCluster> StartAsync(Action<BrokerOptions>? configure = null, int silos = 1, Action<ISiloBuilder>? silo = null,
        Action<IClientBuilder>? client = null, Action<ISiloBuilder>? storage = null, Action<SqliteBrokerStorageOptions>? sqlite = null)
    {
        var data = new TestData();
        var builder = new InProcessTestClusterBuilder((short)silos);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.AddBroker(options =>
            {
                options.LeaseCheckInterval = TimeSpan.FromMilliseconds(100);
                options.ConsumerRenewInterval = TimeSpan.FromSeconds(1);
                configure?.Invoke(options);
            });
            if (storage is not null)
            {
                storage(silo);
            }
            else
            {
                silo.UseSqliteBrokerStorage(options =>
                {
                    options.DataDirectory = data.Directory;
                    sqlite?.Invoke(options);
                });
            }
        });

        // After AddBroker, so a test may replace what it registered (its storage provider, say).
        if (silo is not null)
        {
            builder.ConfigureSilo((_, s) => silo(s));
        }
        if (FileLog.FromEnvironment() is { } log)
        {
            builder.ConfigureSiloHost((_, host) => host.Logging.AddProvider(log).SetMinimumLevel(LogLevel.Debug));
        }

        builder.ConfigureClient(c =>
        {
            c.AddBrokerClient();
            client?.Invoke(c);
        });
        var cluster = builder.Build();
        try
        {
            await cluster.DeployAsync();
        }
        catch
        {
            // A silo that failed to start is stopped with the others; nothing of it outlives the test.
            await cluster.DisposeAsync();
            data.Dispose();
            throw;
        }

        return new BrokerCluster(cluster, data);
    }

    public string DataDirectory => _data.Directory;

    /// <summary>The first silo's services: its storage provider and reminder table, as production configured them.</summary>
    public IServiceProvider SiloServices => Cluster.Silos[0].ServiceProvider;

    /// <summary>Stops every silo and starts them again on the same storage; returns once the client reaches the cluster again.</summary>
    public async Task RestartSilosAsync()
    {
        foreach (var silo in Cluster.Silos.ToList())
        {
            await Cluster.RestartSiloAsync(silo);
        }

        await Eventually.HoldsAsync(async () =>
        {
            try
            {
                await Grains.GetGrain<OrleansBroker.Queues.IQueueRegistryGrain>(0).List();
                return true;
            }
            catch (Exception exception) when (exception is Orleans.Runtime.Messaging.ConnectionFailedException or SiloUnavailableException or OrleansMessageRejectionException)
            {
                return false;
            }
        }, "the client reconnected to the restarted cluster");
    }

    /// <summary>Queue grain activations in the cluster (partitions included), asked of Orleans' management grain: no queue is called.</summary>
    public async Task<int> QueueActivationsAsync()
    {
        var statistics = await Grains.GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics();
        return statistics.Where(s => s.GrainType.StartsWith("OrleansBroker.Server.Queues.QueueGrain,", StringComparison.Ordinal)).Sum(s => s.ActivationCount);
    }

    /// <summary>
    /// Has Orleans deactivate every queue grain not busy now, as <c>Broker:QueueIdleTime</c> would after a while (their
    /// messages stay stored), and waits until none is left in memory.
    /// </summary>
    public Task DeactivateIdleQueuesAsync() => Eventually.HoldsAsync(async () =>
    {
        await Grains.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.FromMilliseconds(1));
        return await QueueActivationsAsync() == 0;
    }, "every queue grain deactivated");

    public async ValueTask DisposeAsync()
    {
        await Cluster.DisposeAsync();
        _data.Dispose();
    }
}
