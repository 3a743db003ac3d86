using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;

namespace OrleansBroker.Server.Storage;

/// <summary>
/// The disk side of one SQLite database: it feeds the <see cref="DiskSpaceAlarm"/> after every commit and every
/// check interval, counting what the database's own files add to the disk's free space, and keeps its
/// <see cref="DiskReserve"/>. Measurements after commits come from the store's writer thread, the others from a
/// background loop of its own; thread-safe.
/// </summary>
internal sealed partial class SqliteDiskGuard : IAsyncDisposable
{
    private readonly string _walPath;
    private readonly string _connectionString;
    private readonly DiskSpaceAlarm _alarm;
    private readonly DiskReserve _reserve;
    private readonly TimeSpan _checkInterval;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Task? _watch;
    private long _pageSize;

    public SqliteDiskGuard(string databasePath, string connectionString, DiskSpaceAlarm alarm, long reserveBytes, TimeSpan checkInterval, ILogger logger)
    {
        _walPath = databasePath + "-wal";
        _connectionString = connectionString;
        _alarm = alarm;
        _reserve = new DiskReserve(databasePath + "-reserve", reserveBytes, logger);
        _checkInterval = checkInterval;
        _logger = logger;
    }

    /// <summary>Holds the reserve, reports the disk, and starts the background checks; on the database's opening connection.</summary>
    public void Start(SqliteConnection connection)
    {
        using (var pageSize = connection.CreateCommand())
        {
            pageSize.CommandText = "PRAGMA page_size";
            _pageSize = (long)pageSize.ExecuteScalar()!;
        }

        _reserve.TryHold();
        _alarm.ReportStart(Slack(FreePages(connection)));
        _watch = Task.Run(WatchAsync);
    }

    /// <summary>Measures after a commit, when the alarm says one is due, with the database's free pages as the writer sees them.</summary>
    public void AfterCommit(SqliteWriter writer)
    {
        if (!_alarm.IsDue())
        {
            return;
        }

        try
        {
            _alarm.Check(Slack((long)writer.Command("PRAGMA freelist_count").ExecuteScalar()!));
        }
        catch (SqliteException exception)
        {
            LogCheckFailed(exception);
        }
    }

    /// <summary>Gives the reserve's space up to a commit that found the disk full; returns whether there was any.</summary>
    public bool ReleaseReserve() => _reserve.Release();

    private static long FreePages(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA freelist_count";
        return (long)command.ExecuteScalar()!;
    }

    /// <summary>
    /// What the database's files add to the disk's free space: its free pages (writes reuse them before the file grows)
    /// and the reserve, less the write-ahead log's size, the most the next checkpoint can grow the database by. A
    /// checkpoint moves up to the log's size into the database at once (16 MiB at SQLite's default of 1000 pages of
    /// 16 KiB): without counting it, free space would fall by that much between two measurements.
    /// </summary>
    private long Slack(long freePages)
    {
        long wal;
        try
        {
            wal = new FileInfo(_walPath) is { Exists: true } file ? file.Length : 0;
        }
        catch (IOException)
        {
            wal = 0;
        }

        return (freePages * _pageSize) - wal + _reserve.HeldBytes;
    }

    /// <summary>
    /// Measures while no commit does, so that space freed by something else (an operator, another program) clears the
    /// alarm even when every publisher is refused and no consumer acks; makes the reserve again once there is room.
    /// </summary>
    private async Task WatchAsync()
    {
        using var timer = new PeriodicTimer(_checkInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token).ConfigureAwait(false))
            {
                try
                {
                    if (_alarm.Reason is null)
                    {
                        _reserve.TryHold();
                    }

                    await using var connection = new SqliteConnection(_connectionString);
                    await connection.OpenAsync(_stopping.Token).ConfigureAwait(false);
                    _alarm.Check(Slack(FreePages(connection)));
                }
                catch (SqliteException exception)
                {
                    LogCheckFailed(exception);
                }
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // Shut down.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        if (_watch is not null)
        {
            await _watch.ConfigureAwait(false);
        }

        _stopping.Dispose();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Broker storage: reading the database's free pages for the disk alarm failed; measured again at the next commit or check")]
    private partial void LogCheckFailed(Exception exception);
}
