using Microsoft.Extensions.Logging;

namespace OrleansBroker.Server.Storage;

/// <summary>
/// A file of zeros beside the database that holds disk space back for a bad moment (<c>Broker:DiskReserveBytes</c>): when
/// a commit finds the disk full, which only happens when something other than the broker's publishes filled it (the
/// disk alarm refuses those first), the store deletes the file and commits again, so acks, dead-lettering and the
/// consumers draining the queue go on. It is made again once the disk has room. Used by one store; thread-safe.
/// </summary>
internal sealed partial class DiskReserve(string path, long bytes, ILogger logger)
{
    private readonly Lock _lock = new();
    private bool _held;

    /// <summary>Bytes it holds now: space that is the broker's to use.</summary>
    public long HeldBytes => Volatile.Read(ref _held) ? bytes : 0;

    /// <summary>Makes the file if it is missing and the disk has twice its size free; returns whether it is held.</summary>
    public bool TryHold()
    {
        if (bytes == 0)
        {
            return false;
        }

        lock (_lock)
        {
            if (File.Exists(path) && new FileInfo(path).Length == bytes)
            {
                Volatile.Write(ref _held, true);
                return true;
            }

            try
            {
                if (new DriveInfo(Path.GetDirectoryName(path)!).AvailableFreeSpace < 2 * bytes)
                {
                    return false;
                }

                WriteZeros();
                Volatile.Write(ref _held, true);
                LogHeld(path, DiskFreeLimit.Format(bytes));
                return true;
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                File.Delete(path);
                LogHoldFailed(exception, path);
                return false;
            }
        }
    }

    /// <summary>Deletes the file, giving its space to the writes that need it; returns whether there was any to give.</summary>
    public bool Release()
    {
        lock (_lock)
        {
            if (!_held)
            {
                return false;
            }

            try
            {
                File.Delete(path);
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
            {
                LogHoldFailed(exception, path);
                return false;
            }

            Volatile.Write(ref _held, false);
            LogReleased(DiskFreeLimit.Format(bytes), path);
            return true;
        }
    }

    /// <summary>Real blocks, not a sparse file: a file's length alone reserves nothing.</summary>
    private void WriteZeros()
    {
        var block = new byte[64 * 1024];
        using var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1);
        for (var written = 0L; written < bytes; written += block.Length)
        {
            file.Write(block, 0, (int)Math.Min(block.Length, bytes - written));
        }

        file.Flush(flushToDisk: true);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Disk reserve: {Path} holds {Size} back for acks and drains on a full disk")]
    private partial void LogHeld(string path, string size);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Disk full: released the disk reserve ({Size}, {Path}) so that acks and drains go on; it is made again once the disk has room")]
    private partial void LogReleased(string size, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Disk reserve: {Path} could not be made or removed; the broker runs without it")]
    private partial void LogHoldFailed(Exception exception, string path);
}
