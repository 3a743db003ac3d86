using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Npgsql;
using OrleansBroker.Errors;
using OrleansBroker.Server.Hosting;

namespace OrleansBroker.Server.Storage.Postgres;

/// <summary>
/// Before anything of the silo uses PostgreSQL: connects with the configured connection string, creates the database when it
/// is missing and the role may, and creates or updates the tables (<see cref="PostgresSchema"/>). A wrong password, a host that
/// does not answer or a role without rights stops the silo at start with one line naming the database, within
/// <see cref="PostgresBrokerStorageOptions.PostgresStartTimeout"/> (Orleans' reminder and membership tables would retry for ever).
/// </summary>
internal sealed partial class PostgresStartCheck(PostgresBrokerStorageOptions options, PostgresStore store, ILogger<PostgresStartCheck> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    /// <summary>The ADO.NET invariant name Orleans' providers know Npgsql by.</summary>
    public const string Invariant = "Npgsql";

    /// <summary>PostgreSQL's code for "database does not exist".</summary>
    private const string InvalidCatalogName = "3D000";

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(PostgresStartCheck), ServiceLifecycleStage.RuntimeInitialize - 1, CheckAsync);

    private async Task CheckAsync(CancellationToken cancellationToken)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.PostgresStartTimeout);
        try
        {
            try
            {
                await PostgresSchema.EnsureAsync(store.Source, logger, timeout.Token).ConfigureAwait(false);
            }
            catch (PostgresException exception) when (exception.SqlState == InvalidCatalogName)
            {
                await CreateDatabaseAsync(timeout.Token).ConfigureAwait(false);
                await PostgresSchema.EnsureAsync(store.Source, logger, timeout.Token).ConfigureAwait(false);
            }
        }
        catch (NotSupportedException exception)
        {
            throw Refused(exception.Message);
        }
        catch (PostgresException exception)
        {
            throw Refused($"the server refused: {exception.MessageText} ({exception.SqlState}).");
        }
        catch (Exception exception) when (!cancellationToken.IsCancellationRequested && (timeout.IsCancellationRequested || exception is TimeoutException))
        {
            throw Refused($"no answer within {options.PostgresStartTimeout.TotalSeconds:F0} s.");
        }
        catch (Exception exception) when (exception is NpgsqlException or SocketException)
        {
            throw Refused($"cannot connect: {FirstLine(exception.GetBaseException().Message)}");
        }
    }

    /// <summary>Creates the database the connection string names, connected to the server's <c>postgres</c> database.</summary>
    private async Task CreateDatabaseAsync(CancellationToken cancellationToken)
    {
        var target = new NpgsqlConnectionStringBuilder(options.PostgresConnectionString);
        var database = target.Database ?? throw Refused("the connection string names no Database.");
        var server = new NpgsqlConnectionStringBuilder(options.PostgresConnectionString) { Database = "postgres", Pooling = false };
        await using var connection = new NpgsqlConnection(server.ConnectionString);
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
        while (true)
        {
            try
            {
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                LogCreatedDatabase(database);
                return;
            }
            catch (PostgresException exception) when (exception.SqlState is PostgresErrorCodes.DuplicateDatabase or PostgresErrorCodes.UniqueViolation)
            {
                // Another silo starting at the same time created it (found at the end of the creation: a unique violation).
                return;
            }
            catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.ObjectInUse)
            {
                // Another silo is creating it (a database is copied from a template no one else may use meanwhile): again
                // shortly, until it exists or the start-up timeout ends the wait.
                await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken).ConfigureAwait(false);
            }
            catch (PostgresException exception) when (exception.SqlState == PostgresErrorCodes.InsufficientPrivilege)
            {
                throw Refused($"database '{database}' does not exist and the role may not create it: create it (createdb {database}) or name one that exists.");
            }
        }
    }

    private BrokerException Refused(string problem) =>
        new(BrokerErrorCode.InvalidOptions, $"Broker:PostgresConnectionString ({options.Describe()}): {problem}");

    private static string FirstLine(string text) => text.Split('\n', 2)[0].Trim();

    [LoggerMessage(Level = LogLevel.Information, Message = "Broker storage: created PostgreSQL database '{Database}'")]
    private partial void LogCreatedDatabase(string database);
}
