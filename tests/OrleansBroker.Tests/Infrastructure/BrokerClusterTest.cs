using OrleansBroker.Client;
using Xunit;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>A test class with a broker cluster of its own (SQLite in a fresh folder), started before its tests and disposed after.</summary>
public abstract class BrokerClusterTest : IAsyncLifetime
{
    protected BrokerCluster Cluster { get; private set; } = null!;

    protected IBrokerClient Broker => Cluster.Broker;

    protected IBrokerAdministrationClient Admin => Cluster.Admin;

    public async Task InitializeAsync() => Cluster = await StartAsync();

    public async Task DisposeAsync() => await Cluster.DisposeAsync();

    /// <summary>Starts the cluster; override to pass broker options or silo services.</summary>
    protected virtual Task<BrokerCluster> StartAsync() => BrokerCluster.StartAsync();
}
