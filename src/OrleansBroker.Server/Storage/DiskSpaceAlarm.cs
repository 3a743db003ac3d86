using System.Diagnostics;
using Microsoft.Extensions.Logging;
using OrleansBroker.Errors;

namespace OrleansBroker.Server.Storage;

/// <summary>
/// The disk alarm, as RabbitMQ's <c>disk_free_limit</c>: while the space left for the broker's data (free space on the
/// data folder's file system plus the space its store will reuse before growing its files) is below
/// <c>Broker:DiskFreeLimit</c>, publishes are refused with <see cref="BrokerErrorCode.StorageFull"/>; deliveries, acks
/// and dead-lettering go on, so consumers drain queues and free space. The alarm clears by itself at the first check
/// that finds enough space. Measured every <c>Broker:DiskCheckInterval</c> and after storage commits: every commit while
/// the space is within <see cref="NearBytes"/> (or the limit, if larger) of the limit, at most every 100 ms further away,
/// which the broker's writes cannot cross in that time. Thread-safe.
/// </summary>
internal sealed partial class DiskSpaceAlarm
{
    private readonly string? _folder;
    private readonly DiskFreeLimit _limit;
    private readonly ILogger<DiskSpaceAlarm> _logger;
    /// <summary>Within this much of the limit, every commit measures.</summary>
    public const long NearBytes = 64L << 20;

    private static readonly long FarInterval = Stopwatch.Frequency / 10;

    private readonly Lock _lock = new();
    private volatile string? _reason;
    private bool _measureFailed;
    private long _lastMeasured;
    private volatile bool _near = true;

    /// <param name="folder">The data folder; null for storage that is not on a local disk (the alarm never raises).</param>
    /// <param name="limit">The limit.</param>
    /// <param name="logger">Logger.</param>
    public DiskSpaceAlarm(string? folder, DiskFreeLimit limit, ILogger<DiskSpaceAlarm> logger)
    {
        _folder = folder;
        _limit = limit;
        _logger = logger;
    }

    /// <summary>Whether there is a disk to watch and a limit to hold it to.</summary>
    public bool IsActive => _folder is not null && !_limit.IsOff;

    /// <summary>Why publishes are refused now, or null while they are taken.</summary>
    public string? Reason => _reason;

    /// <summary>Whether a commit should measure now (see the class summary).</summary>
    public bool IsDue() => IsActive && (_near || Stopwatch.GetTimestamp() - Volatile.Read(ref _lastMeasured) >= FarInterval);

    /// <summary>Refuses a publish while the alarm is raised.</summary>
    public void ThrowIfRaised()
    {
        if (_reason is { } reason)
        {
            throw new BrokerException(BrokerErrorCode.StorageFull, reason);
        }
    }

    /// <summary>Measures the disk and raises or clears the alarm.</summary>
    /// <param name="storeSlack">
    /// What the store's own files add to the disk's free space: space inside them that writes fill before they grow, less
    /// growth already owed (SQLite: its free pages, less its write-ahead log). May be negative.
    /// </param>
    /// <returns>The space left for data and the limit, or null when nothing was measured.</returns>
    public (long Free, long Limit)? Check(long storeSlack)
    {
        if (!IsActive || Measure() is not var (available, total))
        {
            return null;
        }

        var free = Math.Max(0, available + storeSlack);
        var limit = _limit.Resolve(total);
        _near = free - limit < Math.Max(NearBytes, limit);
        Volatile.Write(ref _lastMeasured, Stopwatch.GetTimestamp());
        LogMeasured(available, storeSlack, limit);
        lock (_lock)
        {
            if (free >= limit)
            {
                if (_reason is not null)
                {
                    _reason = null;
                    LogCleared(DiskFreeLimit.Format(free), _folder!, DiskFreeLimit.Format(limit));
                }

                return (free, limit);
            }

            var raised = _reason is null;
            _reason = $"Publishing is refused: the broker's disk has {DiskFreeLimit.Format(free)} left for data at {_folder}, below Broker:DiskFreeLimit " +
                $"({DiskFreeLimit.Format(limit)}). Nothing of this publish was stored. Deliveries and acks go on; publishing resumes by itself once consumers or an operator free space.";
            if (raised)
            {
                LogRaised(DiskFreeLimit.Format(free), _folder!, DiskFreeLimit.Format(limit));
            }
        }

        return (free, limit);
    }

    /// <summary>Logs where the alarm watches and what it found at start.</summary>
    public void ReportStart(long storeSlack)
    {
        if (!IsActive)
        {
            LogOff(_folder is null ? "the storage is not on a local disk" : "Broker:DiskFreeLimit is 0");
            return;
        }

        if (Check(storeSlack) is var (free, limit))
        {
            LogWatching(_folder!, DiskFreeLimit.Format(free), DiskFreeLimit.Format(limit), _limit.ToString());
        }
    }

    private (long Available, long Total)? Measure()
    {
        try
        {
            var drive = new DriveInfo(_folder!);
            return (drive.AvailableFreeSpace, drive.TotalSize);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or ArgumentException)
        {
            if (!_measureFailed)
            {
                _measureFailed = true;
                LogMeasureFailed(exception, _folder!);
            }

            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Disk alarm raised: {Free} left for data at {Folder}, below Broker:DiskFreeLimit {Limit}; publishes are refused (StorageFull) until space returns, deliveries and acks go on")]
    private partial void LogRaised(string free, string folder, string limit);

    [LoggerMessage(Level = LogLevel.Information, Message = "Disk alarm cleared: {Free} left for data at {Folder}, at or above Broker:DiskFreeLimit {Limit}; publishes are taken again")]
    private partial void LogCleared(string free, string folder, string limit);

    [LoggerMessage(Level = LogLevel.Information, Message = "Disk alarm: watching {Folder}, {Free} left for data; publishes are refused below {Limit} (Broker:DiskFreeLimit {Setting})")]
    private partial void LogWatching(string folder, string free, string limit, string setting);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Disk alarm: {Available} bytes free on the disk, {Slack} more in the store's files, limit {Limit}")]
    private partial void LogMeasured(long available, long slack, long limit);

    [LoggerMessage(Level = LogLevel.Information, Message = "Disk alarm: off ({Why})")]
    private partial void LogOff(string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Disk alarm: the free space of {Folder} cannot be measured; the alarm does not raise")]
    private partial void LogMeasureFailed(Exception exception, string folder);
}
