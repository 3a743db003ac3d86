using Microsoft.Extensions.DependencyInjection;
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

    public IGrainFactory Grains => Cluster.Client;

    public static async Task<BrokerCluster> StartAsync(Action<BrokerOptions>? configure = null, int silos = 1)
    {
        var data = new TestData();
        var builder = new InProcessTestClusterBuilder((short)silos);
        builder.ConfigureSilo((_, silo) => silo.AddBroker(options =>
        {
            options.Storage = BrokerStorage.Sqlite;
            options.DataDirectory = data.Directory;
            options.LeaseCheckInterval = TimeSpan.FromMilliseconds(100);
            options.ConsumerRenewInterval = TimeSpan.FromSeconds(1);
            configure?.Invoke(options);
        }));
        builder.ConfigureClient(client => client.AddBrokerClient());
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return new BrokerCluster(cluster, data);
    }

    public string DataDirectory => _data.Directory;

    /// <summary>Stops every silo and starts them again on the same storage; the client reconnects.</summary>
    public async Task RestartSilosAsync()
    {
        foreach (var silo in Cluster.Silos.ToList())
        {
            await Cluster.RestartSiloAsync(silo);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Cluster.DisposeAsync();
        _data.Dispose();
    }
}
