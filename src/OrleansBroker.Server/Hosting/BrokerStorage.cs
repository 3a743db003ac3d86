namespace OrleansBroker.Server.Hosting;

/// <summary>
/// Where a silo keeps messages, queue metadata and reminders, as <c>Broker:Storage</c> (silo-host <c>--storage</c>) names
/// it; in code, call the matching method of <see cref="BrokerStorageExtensions"/>.
/// </summary>
public enum BrokerStorage
{
    /// <summary>Embedded default: one SQLite file (WAL, durable commits) for grain storage and reminders. One silo.</summary>
    Sqlite = 0,

    /// <summary>Azure Storage: blob grain storage and table reminders (Azurite works).</summary>
    Azure = 1,

    /// <summary>In memory, lost when the silo stops: for logic tests and benchmarks only.</summary>
    Memory = 2,

    /// <summary>PostgreSQL: the broker's own table for queue logs, Orleans' ADO.NET table for reminders. For a self-hosted cluster.</summary>
    Postgres = 3,
}
