using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Npgsql;
using NpgsqlTypes;

namespace OrleansBroker.Server.Storage.Postgres;

/// <summary>
/// The broker's records in PostgreSQL (<c>broker_records</c>, one row per grain and record name, a version number as
/// ETag). Writes are group-committed as on SQLite: whatever writes are queued go to the server together, one statement
/// each in one transaction sent in one round trip with its commit, so concurrent writers share the commit's flush to disk. Each write is a
/// single conditional statement that changes its row only at the expected version, so a write that finds another version
/// changes nothing and fails alone while the rest of the transaction commits. Reads run on pooled connections of their own.
/// </summary>
internal sealed partial class PostgresStore : IAsyncDisposable
{
    /// <summary>At most this many writes per transaction, and about this many bytes of them (a single larger write goes alone).</summary>
    private const int MaxWritesPerTransaction = 256;

    private const long MaxBytesPerTransaction = 16 * 1024 * 1024;

    private readonly Channel<RecordWrite> _writes = Channel.CreateUnbounded<RecordWrite>(new() { SingleReader = true });
    private readonly ILogger<PostgresStore> _logger;
    private readonly int _commandTimeoutSeconds;
    private readonly Task _writer;
    private NpgsqlConnection? _connection;

    public PostgresStore(NpgsqlDataSource source, TimeSpan commandTimeout, ILogger<PostgresStore> logger)
    {
        Source = source;
        _logger = logger;
        _commandTimeoutSeconds = Math.Max(1, (int)Math.Ceiling(commandTimeout.TotalSeconds));
        _writer = Task.Run(WriteLoopAsync);
    }

    public NpgsqlDataSource Source { get; }

    /// <summary>The record's version and bytes, or null when there is none.</summary>
    public async Task<(long ETag, byte[] Data)?> ReadAsync(string grainId, string stateName)
    {
        await using var command = Source.CreateCommand("SELECT etag, data FROM broker_records WHERE grain_id = $1 AND state_name = $2");
        command.CommandTimeout = _commandTimeoutSeconds;
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = grainId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = stateName });
        await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
        return await reader.ReadAsync().ConfigureAwait(false) ? (reader.GetInt64(0), (byte[])reader.GetValue(1)) : null;
    }

    /// <summary>The record's version now, or null when there is none (for the message of a conflict).</summary>
    public async Task<long?> CurrentETagAsync(string grainId, string stateName)
    {
        await using var command = Source.CreateCommand("SELECT etag FROM broker_records WHERE grain_id = $1 AND state_name = $2");
        command.CommandTimeout = _commandTimeoutSeconds;
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = grainId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = stateName });
        return await command.ExecuteScalarAsync().ConfigureAwait(false) is long etag ? etag : null;
    }

    /// <summary>
    /// Runs <paramref name="write"/> in the next group commit; completes once that transaction is durable with whether the
    /// write found the version it expected (false: it changed nothing).
    /// </summary>
    public Task<bool> WriteAsync(RecordWrite write)
    {
        if (!_writes.Writer.TryWrite(write))
        {
            throw new ObjectDisposedException(nameof(PostgresStore), "The broker's PostgreSQL store is shut down.");
        }

        return write.Completion.Task;
    }

    private async Task WriteLoopAsync()
    {
        var batch = new List<RecordWrite>(MaxWritesPerTransaction);
        RecordWrite? carried = null;
        while (carried is not null || await _writes.Reader.WaitToReadAsync().ConfigureAwait(false))
        {
            batch.Clear();
            long bytes = 0;
            if (carried is not null)
            {
                batch.Add(carried);
                bytes = carried.Bytes;
                carried = null;
            }

            while (batch.Count < MaxWritesPerTransaction && _writes.Reader.TryRead(out var write))
            {
                if (batch.Count > 0 && bytes + write.Bytes > MaxBytesPerTransaction)
                {
                    carried = write;
                    break;
                }

                batch.Add(write);
                bytes += write.Bytes;
            }

            await CommitAsync(batch).ConfigureAwait(false);
        }
    }

    private async Task CommitAsync(List<RecordWrite> batch)
    {
        try
        {
            var found = await TryCommitAsync(batch).ConfigureAwait(false);
            for (var i = 0; i < batch.Count; i++)
            {
                batch[i].Completion.TrySetResult(found[i]);
            }
        }
        catch (PostgresException exception) when (batch.Count > 1 && !exception.IsTransient)
        {
            // One write the server refused (and the transaction with it): each again in a transaction of its own, so that only
            // that one fails.
            LogRetryingAlone(exception.SqlState, batch.Count);
            foreach (var write in batch)
            {
                await CommitAsync([write]).ConfigureAwait(false);
            }
        }
        catch (Exception exception)
        {
            LogCommitFailed(exception, batch.Count);
            foreach (var write in batch)
            {
                write.Completion.TrySetException(exception);
            }
        }
    }

    /// <summary>
    /// One round trip: the writes go as one batch, which PostgreSQL runs as one implicit transaction and commits (durably,
    /// <c>synchronous_commit</c> permitting) before it answers; an error in any rolls back all. Whether each write found its version.
    /// </summary>
    private async Task<bool[]> TryCommitAsync(List<RecordWrite> batch)
    {
        var connection = await WriterConnectionAsync().ConfigureAwait(false);
        await using var command = new NpgsqlBatch(connection) { Timeout = _commandTimeoutSeconds };
        foreach (var write in batch)
        {
            command.BatchCommands.Add(write.ToCommand());
        }

        // The reader is disposed before this returns, which reads to the server's ready message: the implicit transaction
        // has committed (or its failure has been thrown) before any writer hears back.
        var found = new bool[batch.Count];
        await using var reader = await command.ExecuteReaderAsync().ConfigureAwait(false);
        for (var i = 0; i < batch.Count; i++)
        {
            found[i] = await reader.ReadAsync().ConfigureAwait(false) == batch[i].SucceedsWithRow;
            await reader.NextResultAsync().ConfigureAwait(false);
        }

        return found;
    }

    /// <summary>
    /// The writer's own connection, kept open so that its statements stay prepared (the server parses and plans each kind of
    /// write once); opened again after it broke.
    /// </summary>
    private async Task<NpgsqlConnection> WriterConnectionAsync()
    {
        if (_connection is { State: System.Data.ConnectionState.Open } open)
        {
            return open;
        }

        if (_connection is not null)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
            _connection = null;
        }

        _connection = await Source.OpenConnectionAsync().ConfigureAwait(false);
        return _connection;
    }

    public async ValueTask DisposeAsync()
    {
        _writes.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
        if (_connection is not null)
        {
            await _connection.DisposeAsync().ConfigureAwait(false);
        }

        await Source.DisposeAsync().ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "PostgreSQL refused a write ({SqlState}); committing the {Count} writes of its transaction one by one")]
    private partial void LogRetryingAlone(string sqlState, int count);

    [LoggerMessage(Level = LogLevel.Error, Message = "PostgreSQL commit of {Count} writes failed; each writer gets the error")]
    private partial void LogCommitFailed(Exception exception, int count);
}

/// <summary>One conditional write of a record: a single statement that returns a row exactly when it did (or, for
/// <see cref="ClearAbsent"/>, found) what was asked.</summary>
internal sealed class RecordWrite
{
    private readonly string _sql;
    private readonly string _grainId;
    private readonly string _stateName;
    private readonly long? _etag;
    private readonly byte[]? _data;

    private RecordWrite(string sql, string grainId, string stateName, long? etag, byte[]? data, bool succeedsWithRow)
    {
        _sql = sql;
        _grainId = grainId;
        _stateName = stateName;
        _etag = etag;
        _data = data;
        SucceedsWithRow = succeedsWithRow;
    }

    /// <summary>Whether the statement succeeded when it returned a row (all but <see cref="ClearAbsent"/>).</summary>
    public bool SucceedsWithRow { get; }

    public long Bytes => _data?.Length ?? 0;

    public TaskCompletionSource<bool> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Creates the record at version 1, only if there is none.</summary>
    public static RecordWrite Insert(string grainId, string stateName, byte[] data) => new(
        "INSERT INTO broker_records(grain_id, state_name, etag, data) VALUES ($1, $2, 1, $3) ON CONFLICT (grain_id, state_name) DO NOTHING RETURNING etag",
        grainId, stateName, null, data, true);

    /// <summary>Replaces the record and adds one to its version, only at version <paramref name="etag"/>.</summary>
    public static RecordWrite Update(string grainId, string stateName, long etag, byte[] data) => new(
        "UPDATE broker_records SET etag = etag + 1, data = $3 WHERE grain_id = $1 AND state_name = $2 AND etag = $4 RETURNING etag",
        grainId, stateName, etag, data, true);

    /// <summary>Deletes the record, only at version <paramref name="etag"/>.</summary>
    public static RecordWrite Delete(string grainId, string stateName, long etag) => new(
        "DELETE FROM broker_records WHERE grain_id = $1 AND state_name = $2 AND etag = $3 RETURNING etag",
        grainId, stateName, etag, null, true);

    /// <summary>Clearing a record believed absent: succeeds only while it is absent (in the same transaction as the others).</summary>
    public static RecordWrite ClearAbsent(string grainId, string stateName) => new(
        "SELECT etag FROM broker_records WHERE grain_id = $1 AND state_name = $2",
        grainId, stateName, null, null, false);

    public NpgsqlBatchCommand ToCommand()
    {
        var command = new NpgsqlBatchCommand(_sql);
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _grainId });
        command.Parameters.Add(new NpgsqlParameter<string> { TypedValue = _stateName });
        if (_data is not null)
        {
            command.Parameters.Add(new NpgsqlParameter<byte[]> { TypedValue = _data, NpgsqlDbType = NpgsqlDbType.Bytea });
        }

        // Parameters in the order the statements number them: key, then the bytes (if any), then the version (if any).
        if (_etag is { } etag)
        {
            command.Parameters.Add(new NpgsqlParameter<long> { TypedValue = etag });
        }

        return command;
    }
}
