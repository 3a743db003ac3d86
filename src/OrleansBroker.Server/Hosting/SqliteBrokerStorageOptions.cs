using OrleansBroker.Errors;

namespace OrleansBroker.Server.Hosting;

/// <summary>
/// The embedded storage (<see cref="BrokerStorageExtensions.UseSqliteBrokerStorage"/>): one SQLite file for queue logs, metadata
/// and reminders, with the disk alarm that refuses publishes before the disk is full. Each property is bound from the key of
/// its name in the <c>Broker</c> section (<c>Broker:DataDirectory</c>, ...). One silo per file.
/// </summary>
public sealed class SqliteBrokerStorageOptions
{
    /// <summary>Folder of the SQLite database (<c>broker.db</c>). Default <c>data</c>, relative to the working directory.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>
    /// Bytes of the SQLite file the writer reads through a memory map (SQLite <c>mmap_size</c>). Default 0:
    /// off, so the broker's RSS stays bounded (mapped pages count in RSS). Measured here with 1M queued
    /// 1 KiB messages: 0 gives RSS about 270 MB and a publish rate at that depth about half the rate into
    /// an empty queue; 1 GiB keeps the rate flat but RSS grows to about 750 MB. At most 64 GiB.
    /// </summary>
    public long SqliteMmapBytes { get; set; }

    /// <summary>
    /// Space the silo keeps free for its data before it refuses publishes (the disk alarm). Bytes with a unit (<c>1GiB</c>,
    /// <c>500MB</c>), a share of the data folder's disk (<c>5%</c>), or <c>0</c> for no alarm. Space counts the file system's
    /// free space plus the database's free pages, so consumers draining a queue clear the alarm. Default <c>1GiB</c>.
    /// </summary>
    public string DiskFreeLimit { get; set; } = "1GiB";

    /// <summary>
    /// Disk space the silo holds back in a file beside its SQLite database (<c>broker.db-reserve</c>) and gives up when a
    /// write finds the disk full, so that acks and consumers draining queues go on after something else filled the disk;
    /// made again once there is room. Default 8 MiB; 0 for none; at most 1 GiB.
    /// </summary>
    public long DiskReserveBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>How often the disk alarm measures the data folder's disk besides after every commit. Default 1 s; 100 ms to 1 min.</summary>
    public TimeSpan DiskCheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Full path of the SQLite database file.</summary>
    public string SqlitePath => Path.GetFullPath(Path.Combine(DataDirectory, "broker.db"));

    /// <summary><see cref="DiskFreeLimit"/> as read; call after <see cref="Validate"/>.</summary>
    internal Storage.DiskFreeLimit ParsedDiskFreeLimit =>
        Storage.DiskFreeLimit.TryParse(DiskFreeLimit, out var limit) ? limit : throw new InvalidOperationException("Validate first.");

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) naming the first bad setting.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(DataDirectory))
        {
            Fail("Broker:DataDirectory is empty; the sqlite storage needs a folder.");
        }

        if (SqliteMmapBytes < 0 || SqliteMmapBytes > 64L * 1024 * 1024 * 1024)
        {
            Fail($"Broker:SqliteMmapBytes {SqliteMmapBytes} is out of range 0..68719476736 (64 GiB).");
        }

        if (!Storage.DiskFreeLimit.TryParse(DiskFreeLimit, out _))
        {
            Fail($"Broker:DiskFreeLimit '{DiskFreeLimit}' is not a size (1GiB, 500MB, 1048576), a share of the disk (5%) or 0 for no limit.");
        }

        if (DiskReserveBytes is < 0 or > 1L << 30)
        {
            Fail($"Broker:DiskReserveBytes {DiskReserveBytes} is out of range 0..1073741824 (1 GiB).");
        }

        if (DiskCheckInterval < TimeSpan.FromMilliseconds(100) || DiskCheckInterval > TimeSpan.FromMinutes(1))
        {
            Fail($"Broker:DiskCheckInterval {DiskCheckInterval} is out of range 00:00:00.1..00:01:00.");
        }
    }

    private static void Fail(string message) => throw new BrokerException(BrokerErrorCode.InvalidOptions, message);
}
