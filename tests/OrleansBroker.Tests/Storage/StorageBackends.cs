using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Storage;

/// <summary>
/// One storage backend as a silo configured by the production <c>AddBroker()</c> has it: the grain
/// storage provider and reminder table are taken from the running silo's services, so the suite
/// tests exactly what the broker uses. One silo per backend, shared by the test classes of its collection
/// (storage contract, message log, queue); tests keep apart by unique grain ids.
/// </summary>
public abstract class StorageBackend : IAsyncLifetime
{
    public BrokerCluster Cluster { get; private set; } = null!;

    public IGrainStorage Storage => Cluster.SiloServices.GetRequiredKeyedService<IGrainStorage>(BrokerOptions.StorageProviderName);

    public IReminderTable Reminders => Cluster.SiloServices.GetRequiredService<IReminderTable>();

    /// <summary>Short, so the reminder test waits seconds: a queue with leases out is woken this often after a restart.</summary>
    public static readonly TimeSpan ReminderPeriod = TimeSpan.FromSeconds(2);

    public virtual async Task InitializeAsync() => Cluster = await BrokerCluster.StartAsync(options =>
    {
        options.ReminderPeriod = ReminderPeriod;
        // A consumer that stops renewing is dropped after 9 s (clients renew every 3 s on their own), so the reminder test,
        // whose consumer stops at a restart, waits seconds rather than half a minute for its lease to end.
        options.ConsumerRenewInterval = TimeSpan.FromSeconds(3);

        // Small segments and little memory per queue, so that a queue of a few MiB pages bodies out and back in.
        options.SegmentMaxBytes = 64 * 1024;
        options.ResidentBytesPerQueue = 256 * 1024;
    }, storage: UseStorage);

    public virtual async Task DisposeAsync()
    {
        if (Cluster is not null)
        {
            await Cluster.DisposeAsync();
        }
    }

    protected abstract void UseStorage(ISiloBuilder silo);
}

/// <summary>The embedded default: a SQLite file in a folder of the test's own.</summary>
public sealed class SqliteBackend : StorageBackend
{
    public const string Collection = "SQLite backend";

    private readonly TestData _data = new();

    protected override void UseStorage(ISiloBuilder silo) => silo.UseSqliteBrokerStorage(options => options.DataDirectory = _data.Directory);

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _data.Dispose();
    }
}

/// <summary>Orleans in-memory grain storage: the logic-only backend.</summary>
public sealed class MemoryBackend : StorageBackend
{
    public const string Collection = "memory backend";

    protected override void UseStorage(ISiloBuilder silo) => silo.UseMemoryBrokerStorage();
}

/// <summary>Azure blob grain storage and Azure table reminders on a real Azurite, with a container and table of their own.</summary>
public sealed class AzureBackend : StorageBackend
{
    public const string Collection = "Azure backend";

    private readonly Azurite _azurite = new();
    private readonly string _container = Azurite.UniqueName("c");
    private readonly string _table = Azurite.UniqueName("t");

    public override async Task InitializeAsync()
    {
        await _azurite.InitializeAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _azurite.DisposeAsync();
    }

    protected override void UseStorage(ISiloBuilder silo) => silo.UseAzureBrokerStorage(_azurite.ConnectionString, options =>
    {
        options.AzureContainerName = _container;
        options.AzureReminderTableName = _table;
    });
}

/// <summary>The broker's PostgreSQL store and Orleans' ADO.NET reminders on a real PostgreSQL server, in a database of their own.</summary>
public sealed class PostgresBackend : StorageBackend
{
    public const string Collection = "PostgreSQL backend";

    private readonly PostgresServer _server = new();

    // Named once: the callback below runs again for each silo a restart starts, and they must all find the same data.
    private readonly string _database = PostgresServer.UniqueDatabase();

    public override async Task InitializeAsync()
    {
        await _server.InitializeAsync();
        await base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        await _server.DisposeAsync();
    }

    protected override void UseStorage(ISiloBuilder silo) => silo.UsePostgresBrokerStorage(_server.ConnectionString(_database));
}

[CollectionDefinition(SqliteBackend.Collection)]
public sealed class SqliteBackendCollection : ICollectionFixture<SqliteBackend>;

[CollectionDefinition(AzureBackend.Collection)]
public sealed class AzureBackendCollection : ICollectionFixture<AzureBackend>;

[CollectionDefinition(PostgresBackend.Collection)]
public sealed class PostgresBackendCollection : ICollectionFixture<PostgresBackend>;

[CollectionDefinition(MemoryBackend.Collection)]
public sealed class MemoryBackendCollection : ICollectionFixture<MemoryBackend>;
