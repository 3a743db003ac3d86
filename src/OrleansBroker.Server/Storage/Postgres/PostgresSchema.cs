using System.Reflection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace OrleansBroker.Server.Storage.Postgres;

/// <summary>
/// The tables a broker silo needs in its PostgreSQL database, created or brought up to date at start, in one transaction
/// under an advisory lock so that silos starting together do it once: the broker's <c>broker_records</c> (queue logs and
/// metadata, versioned in <c>broker_schema</c>) and Orleans' own tables for reminders and membership (its scripts, run once
/// each when their table is missing).
/// </summary>
internal static partial class PostgresSchema
{
    /// <summary>The broker's schema version this build writes; a database of a later version is refused.</summary>
    public const int Version = 1;

    /// <summary>Key of the advisory lock that serializes schema changes of silos starting together.</summary>
    private const long LockKey = 0x6f62726f6b6572; // "obroker"

    private static readonly (string Table, string Script)[] OrleansScripts =
    [
        ("orleansquery", "PostgreSQL-Main.sql"),
        ("orleansmembershiptable", "PostgreSQL-Clustering.sql"),
        ("orleansreminderstable", "PostgreSQL-Reminders.sql"),
    ];

    /// <summary>Creates what is missing and logs what it did; a database of a later broker version throws <see cref="NotSupportedException"/>.</summary>
    public static async Task EnsureAsync(NpgsqlDataSource source, ILogger logger, CancellationToken cancellationToken)
    {
        await using var connection = await source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await ExecuteAsync(connection, $"SELECT pg_advisory_xact_lock({LockKey})", cancellationToken).ConfigureAwait(false);

        var created = new List<string>();
        await ExecuteAsync(connection, "CREATE TABLE IF NOT EXISTS broker_schema(version integer NOT NULL)", cancellationToken).ConfigureAwait(false);
        var version = await ScalarAsync(connection, "SELECT max(version) FROM broker_schema", cancellationToken).ConfigureAwait(false) is int found ? found : 0;
        if (version > Version)
        {
            throw new NotSupportedException(
                $"the database holds broker schema version {version}, newer than this silo's {Version}: run a silo of that version or later.");
        }

        if (version < 1)
        {
            // Bodies are stored as they come (EXTERNAL: out of line, not compressed): segments are bounded and compressing
            // each one on every commit costs more CPU than the space is worth.
            await ExecuteAsync(connection, """
                CREATE TABLE broker_records(
                    grain_id text NOT NULL,
                    state_name text NOT NULL,
                    etag bigint NOT NULL,
                    data bytea NOT NULL,
                    PRIMARY KEY (grain_id, state_name));
                ALTER TABLE broker_records ALTER COLUMN data SET STORAGE EXTERNAL;
                INSERT INTO broker_schema(version) VALUES (1);
                """, cancellationToken).ConfigureAwait(false);
            created.Add("broker_records");
        }

        foreach (var (table, script) in OrleansScripts)
        {
            if (await ScalarAsync(connection, $"SELECT to_regclass('{table}') IS NOT NULL", cancellationToken).ConfigureAwait(false) is not true)
            {
                await ExecuteAsync(connection, ReadScript(script), cancellationToken).ConfigureAwait(false);
                created.Add(table);
            }
        }

        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        if (created.Count > 0)
        {
            LogCreated(logger, connection.Database, string.Join(", ", created), Version);
        }
        else
        {
            LogUpToDate(logger, connection.Database, Version);
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async Task<object?> ScalarAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        return await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }

    private static string ReadScript(string name)
    {
        using var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream($"OrleansBroker.Server.Storage.Postgres.OrleansSchema.{name}")
            ?? throw new InvalidOperationException($"The silo's build is missing Orleans' script {name}.");
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Broker storage: PostgreSQL database '{Database}': created {Tables} (broker schema version {Version})")]
    private static partial void LogCreated(ILogger logger, string database, string tables, int version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Broker storage: PostgreSQL database '{Database}' has every table (broker schema version {Version})")]
    private static partial void LogUpToDate(ILogger logger, string database, int version);
}
