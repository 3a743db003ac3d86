using System.Threading.Channels;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using OrleansBroker.Server.Errors;

namespace OrleansBroker.Server.Storage;

/// <summary>
/// One SQLite database file shared by the grain storage and the reminder table of a silo.
/// WAL mode with <c>synchronous=FULL</c>: a write is acknowledged only after its commit reached
/// the disk. All writes go through one writer connection that commits whatever writes are
/// queued together in one transaction (group commit), so concurrent writers share an fsync.
/// Reads use their own pooled connections and never wait for the writer.
/// </summary>
internal sealed partial class SqliteStore : IAsyncDisposable
{
    private const int MaxWritesPerTransaction = 512;

    private readonly Channel<WriteOp> _writes = Channel.CreateUnbounded<WriteOp>(new() { SingleReader = true });
    private readonly string _connectionString;
    private readonly ILogger<SqliteStore> _logger;
    private readonly Lazy<Task> _open;
    private readonly long _mmapBytes;
    private readonly SqliteDiskGuard _disk;
    private Task? _writer;

    /// <param name="path">The database file.</param>
    /// <param name="mmapBytes">SQLite <c>mmap_size</c> of the writer connection (see <c>BrokerOptions.SqliteMmapBytes</c>).</param>
    /// <param name="alarm">The disk alarm this store measures for, after each commit and every <paramref name="diskCheckInterval"/>.</param>
    /// <param name="diskCheckInterval">How often the disk is measured while no commit does it.</param>
    /// <param name="reserveBytes">Size of the <see cref="DiskReserve"/> beside the database; 0 for none.</param>
    /// <param name="logger">Logger.</param>
    public SqliteStore(string path, long mmapBytes, DiskSpaceAlarm alarm, TimeSpan diskCheckInterval, long reserveBytes, ILogger<SqliteStore> logger)
    {
        Path = System.IO.Path.GetFullPath(path);
        _mmapBytes = mmapBytes;
        _logger = logger;
        _connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = Path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Pooling = true,
            DefaultTimeout = 30,
        }.ToString();
        _disk = new SqliteDiskGuard(Path, _connectionString, alarm, reserveBytes, diskCheckInterval, logger);
        _open = new Lazy<Task>(OpenAsync);
    }

    /// <summary>Full path of the database file.</summary>
    public string Path { get; }

    /// <summary>Runs <paramref name="write"/> inside the next group-commit transaction; completes after that transaction is durable.</summary>
    public async Task<T> WriteAsync<T>(Func<SqliteWriter, T> write, CancellationToken cancellationToken = default)
    {
        await _open.Value;
        var op = new WriteOp<T>(write);
        if (!_writes.Writer.TryWrite(op))
        {
            throw new ObjectDisposedException(nameof(SqliteStore), "The broker's SQLite store is shut down.");
        }

        return await op.Completion.Task.WaitAsync(cancellationToken);
    }

    /// <summary>Runs a read on a pooled connection of its own.</summary>
    public async Task<T> ReadAsync<T>(Func<SqliteConnection, T> read)
    {
        await _open.Value;
        await using var connection = new SqliteConnection(_connectionString);
        connection.Open();
        return read(connection);
    }

    private async Task OpenAsync()
    {
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(Path)!);
        var connection = new SqliteConnection(_connectionString);
        await connection.OpenAsync();
        using (var pragma = connection.CreateCommand())
        {
            pragma.CommandText = $"""
                PRAGMA page_size=16384;
                PRAGMA journal_mode=WAL;
                PRAGMA synchronous=FULL;
                PRAGMA mmap_size={_mmapBytes};
                CREATE TABLE IF NOT EXISTS records(
                    grain_id TEXT NOT NULL,
                    state_name TEXT NOT NULL,
                    etag INTEGER NOT NULL,
                    data BLOB NOT NULL,
                    PRIMARY KEY (grain_id, state_name));
                CREATE TABLE IF NOT EXISTS reminders(
                    grain_id TEXT NOT NULL,
                    reminder_name TEXT NOT NULL,
                    grain_hash INTEGER NOT NULL,
                    start_at INTEGER NOT NULL,
                    period_ticks INTEGER NOT NULL,
                    etag INTEGER NOT NULL,
                    PRIMARY KEY (grain_id, reminder_name));
                CREATE INDEX IF NOT EXISTS reminders_by_hash ON reminders(grain_hash);
                """;
            await pragma.ExecuteNonQueryAsync();
        }

        MoveRecordsOutOfWithoutRowidTable(connection);
        LogOpened(Path);
        _disk.Start(connection);
        _writer = Task.Run(() => WriteLoopAsync(connection));
    }

    /// <summary>
    /// Databases of earlier versions keep records in <c>grain_state</c>, a WITHOUT ROWID table: its rows live in
    /// the key's B-tree, so every search compares against whole rows and reads each 1 MiB segment it passes from its
    /// overflow pages (at 1M queued, a quarter of the broker's time went to those reads). <c>records</c> is a rowid
    /// table whose key index holds only the key. The move is one transaction: a crash midway leaves the old table whole.
    /// </summary>
    private void MoveRecordsOutOfWithoutRowidTable(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'grain_state'";
        if ((long)command.ExecuteScalar()! == 0)
        {
            return;
        }

        command.CommandText = "SELECT COUNT(*) FROM grain_state";
        var count = (long)command.ExecuteScalar()!;
        LogMovingRecords(Path, count);
        var clock = System.Diagnostics.Stopwatch.StartNew();
        command.CommandText = """
            BEGIN IMMEDIATE;
            INSERT INTO records(grain_id, state_name, etag, data) SELECT grain_id, state_name, etag, data FROM grain_state;
            DROP TABLE grain_state;
            COMMIT;
            """;
        command.CommandTimeout = 0;
        command.ExecuteNonQuery();
        LogMovedRecords(count, clock.Elapsed.TotalSeconds);
    }

    private async Task WriteLoopAsync(SqliteConnection connection)
    {
        var batch = new List<WriteOp>(MaxWritesPerTransaction);
        var writer = new SqliteWriter(connection);
        try
        {
            while (await _writes.Reader.WaitToReadAsync().ConfigureAwait(false))
            {
                batch.Clear();
                while (batch.Count < MaxWritesPerTransaction && _writes.Reader.TryRead(out var op))
                {
                    batch.Add(op);
                }

                CommitBatch(writer, batch);
            }
        }
        finally
        {
            writer.Dispose();
            await connection.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void CommitBatch(SqliteWriter writer, List<WriteOp> batch)
    {
        var (failure, failedAlone) = TryCommit(writer, batch);
        if (failure is not null && ClientSafeErrors.IsDiskFull(failure) && _disk.ReleaseReserve())
        {
            // Something else filled the disk: the reserve's space lets this commit, and the acks behind it, through.
            (failure, failedAlone) = TryCommit(writer, batch);
        }

        // Before the writers hear back: measured after, it would keep this thread from running their continuations,
        // and waking another costs a one-by-one publish more than the measurement (about 15%, measured).
        _disk.AfterCommit(writer);

        if (failure is not null)
        {
            LogCommitFailed(failure, batch.Count);
            foreach (var op in batch)
            {
                op.Fail(failure);
            }

            return;
        }

        foreach (var (op, exception) in failedAlone ?? [])
        {
            op.Fail(exception);
        }

        foreach (var op in batch)
        {
            op.Succeed();
        }
    }

    /// <summary>
    /// Runs the batch in one transaction. Returns the error that failed the whole transaction (nothing of it is stored),
    /// or null and the ops that failed alone (each rolled back to its savepoint, the others committed).
    /// </summary>
    private (Exception? Failure, List<(WriteOp Op, Exception Error)>? FailedAlone) TryCommit(SqliteWriter writer, List<WriteOp> batch)
    {
        try
        {
            // Plain BEGIN/COMMIT rather than BeginTransaction, so ops need no transaction object.
            writer.Execute("BEGIN IMMEDIATE");
            List<(WriteOp, Exception)>? failedAlone = null;
            if (!TryExecuteAll(writer, batch))
            {
                // An op failed (an ETag conflict, mostly) and may have left changes: undo the batch and run it again with
                // each op under a savepoint, so that the failing op fails alone and the others commit. Ops are run again
                // from their inputs, and the first pass left nothing behind, so running one twice is harmless.
                writer.Execute("ROLLBACK");
                writer.Execute("BEGIN IMMEDIATE");
                failedAlone = ExecuteEachIsolated(writer, batch);
            }

            writer.Execute("COMMIT");
            return (null, failedAlone);
        }
        catch (Exception exception)
        {
            TryRollback(writer);
            return (exception, null);
        }
    }

    /// <summary>The common case: every op in one go, with no savepoint statements around each (they cost as much as the ops).</summary>
    private static bool TryExecuteAll(SqliteWriter writer, List<WriteOp> batch)
    {
        foreach (var op in batch)
        {
            try
            {
                op.Execute(writer);
            }
            catch (Exception)
            {
                // Not failed yet: ExecuteEachIsolated runs it again and fails it alone.
                return false;
            }
        }

        return true;
    }

    /// <summary>
    /// Runs each op under a savepoint; returns those that failed, to be failed once the transaction has committed. A full
    /// disk is no op's own fault: it fails the whole transaction, which may then be run again.
    /// </summary>
    private static List<(WriteOp, Exception)> ExecuteEachIsolated(SqliteWriter writer, List<WriteOp> batch)
    {
        var failed = new List<(WriteOp, Exception)>();
        foreach (var op in batch)
        {
            writer.Execute("SAVEPOINT op");
            try
            {
                op.Execute(writer);
                writer.Execute("RELEASE op");
            }
            catch (Exception exception) when (!ClientSafeErrors.IsDiskFull(exception))
            {
                writer.Execute("ROLLBACK TO op; RELEASE op");
                failed.Add((op, exception));
            }
        }

        return failed;
    }

    private void TryRollback(SqliteWriter writer)
    {
        try
        {
            writer.Execute("ROLLBACK");
        }
        catch (SqliteException exception)
        {
            // No transaction was open (BEGIN itself failed); nothing to undo.
            LogRollbackSkipped(exception.Message);
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _disk.DisposeAsync().ConfigureAwait(false);
        _writes.Writer.TryComplete();
        if (_writer is not null)
        {
            await _writer.ConfigureAwait(false);
        }

        SqliteConnection.ClearAllPools();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Broker storage: SQLite database at {Path} (WAL, synchronous=FULL)")]
    private partial void LogOpened(string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Broker storage: moving {Count} records of {Path} to the current table layout, once; a deep queue's database takes a while")]
    private partial void LogMovingRecords(string path, long count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Broker storage: moved {Count} records in {Seconds:F1} s")]
    private partial void LogMovedRecords(long count, double seconds);

    [LoggerMessage(Level = LogLevel.Error, Message = "SQLite commit of {Count} writes failed; each writer gets the error")]
    private partial void LogCommitFailed(Exception exception, int count);


    [LoggerMessage(Level = LogLevel.Debug, Message = "SQLite rollback skipped: {Reason}")]
    private partial void LogRollbackSkipped(string reason);

    private abstract class WriteOp
    {
        public abstract void Execute(SqliteWriter writer);

        public abstract void Fail(Exception exception);

        public abstract void Succeed();
    }

    private sealed class WriteOp<T>(Func<SqliteWriter, T> write) : WriteOp
    {
        private T _result = default!;
        private bool _failed;

        public TaskCompletionSource<T> Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public override void Execute(SqliteWriter writer) => _result = write(writer);

        public override void Fail(Exception exception)
        {
            _failed = true;
            Completion.TrySetException(exception);
        }

        public override void Succeed()
        {
            if (!_failed)
            {
                Completion.TrySetResult(_result);
            }
        }
    }
}
