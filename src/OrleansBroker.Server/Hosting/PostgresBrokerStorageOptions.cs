using Npgsql;
using OrleansBroker.Errors;

namespace OrleansBroker.Server.Hosting;

/// <summary>
/// PostgreSQL for a self-hosted cluster (<see cref="BrokerStorageExtensions.UsePostgresBrokerStorage(ISiloBuilder, Action{PostgresBrokerStorageOptions})"/>):
/// queue logs and metadata in the broker's own table, reminders (and, with <c>Broker:Clustering=postgres</c>, membership) in
/// Orleans' tables, all in one database every silo shares. The silo creates or updates the tables at start. Each property is
/// bound from the key of its name in the <c>Broker</c> section.
/// </summary>
public sealed class PostgresBrokerStorageOptions
{
    /// <summary>
    /// Npgsql connection string (<c>Host=db;Database=broker;Username=broker;Password=...</c>). Required. The role needs to
    /// create tables in the database the first time a silo starts, and to read and write them after.
    /// </summary>
    public string? PostgresConnectionString { get; set; }

    /// <summary>How long the start-up check waits for the database to answer before the silo gives up. Default 30 s; 1 s to 10 min.</summary>
    public TimeSpan PostgresStartTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// How long a commit may take before it fails with <c>StorageUnavailable</c> (and the broker's own retries take over).
    /// Default 20 s, below a client's 30 s response timeout; 1 s to 5 min.
    /// </summary>
    public TimeSpan PostgresCommandTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>The database the connection string names, as logs and errors quote it (never the password).</summary>
    public string Describe()
    {
        var parsed = new NpgsqlConnectionStringBuilder(PostgresConnectionString);
        return $"PostgreSQL database '{parsed.Database ?? parsed.Username ?? "(default)"}' on {parsed.Host ?? "localhost"}:{parsed.Port}";
    }

    /// <summary>
    /// The connection string the broker's own store uses: the configured one, with statements prepared automatically unless it
    /// says otherwise (<c>Max Auto Prepare</c>), so the few kinds of write are parsed and planned once per connection.
    /// </summary>
    internal string StoreConnectionString()
    {
        var builder = new NpgsqlConnectionStringBuilder(PostgresConnectionString);
        if (builder.MaxAutoPrepare == 0)
        {
            builder.MaxAutoPrepare = 16;
        }

        return builder.ConnectionString;
    }

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) naming the first bad setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(PostgresConnectionString))
        {
            Fail("PostgreSQL storage needs Broker:PostgresConnectionString (Host=...;Database=...;Username=...;Password=...).");
        }

        try
        {
            // Reads the string only (no connection is made): a malformed one is a setting error here, not a crash later.
            _ = new NpgsqlConnectionStringBuilder(PostgresConnectionString);
        }
        catch (Exception exception) when (exception is FormatException or ArgumentException)
        {
            Fail($"Broker:PostgresConnectionString is not a PostgreSQL connection string: {exception.Message}");
        }

        if (PostgresStartTimeout < TimeSpan.FromSeconds(1) || PostgresStartTimeout > TimeSpan.FromMinutes(10))
        {
            Fail($"Broker:PostgresStartTimeout {PostgresStartTimeout} is out of range 00:00:01..00:10:00.");
        }

        if (PostgresCommandTimeout < TimeSpan.FromSeconds(1) || PostgresCommandTimeout > TimeSpan.FromMinutes(5))
        {
            Fail($"Broker:PostgresCommandTimeout {PostgresCommandTimeout} is out of range 00:00:01..00:05:00.");
        }
    }

    private static void Fail(string message) => throw new BrokerException(BrokerErrorCode.InvalidOptions, message);
}
