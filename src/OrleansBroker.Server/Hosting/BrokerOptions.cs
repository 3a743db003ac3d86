using OrleansBroker.Errors;

namespace OrleansBroker.Server.Hosting;

/// <summary>
/// Silo-wide broker settings, bound from the <c>Broker</c> configuration section (environment:
/// <c>Broker__Storage</c>, ...). Defaults are the values written here; <see cref="Validate"/>
/// runs when the silo is configured.
/// </summary>
public sealed class BrokerOptions
{
    /// <summary>Configuration section name.</summary>
    public const string SectionName = BrokerDefaults.SectionName;

    /// <summary>Name of the grain-storage provider the broker registers and uses.</summary>
    public const string StorageProviderName = "broker";

    /// <summary>
    /// The same storage as <see cref="StorageProviderName"/> for grains whose state Orleans loads (<c>[PersistentState]</c>):
    /// its failures reach callers as broker errors (see <c>ClientSafeGrainStorage</c>). Records do not depend on the name.
    /// </summary>
    internal const string StateStorageProviderName = "broker-state";

    /// <summary>Storage backend. Default <see cref="BrokerStorage.Sqlite"/>.</summary>
    public BrokerStorage Storage { get; set; } = BrokerStorage.Sqlite;

    /// <summary>Folder of the SQLite database (<c>broker.db</c>). Default <c>data</c>, relative to the working directory.</summary>
    public string DataDirectory { get; set; } = "data";

    /// <summary>Azure Storage connection string; required with <see cref="BrokerStorage.Azure"/>.</summary>
    public string? AzureConnectionString { get; set; }

    /// <summary>Blob container for queue logs with <see cref="BrokerStorage.Azure"/>. Default <c>broker</c>.</summary>
    public string AzureContainerName { get; set; } = "broker";

    /// <summary>Table for reminders with <see cref="BrokerStorage.Azure"/>. Default <c>BrokerReminders</c>.</summary>
    public string AzureReminderTableName { get; set; } = "BrokerReminders";

    /// <summary>
    /// Bytes of the SQLite file the writer reads through a memory map (SQLite <c>mmap_size</c>). Default 0:
    /// off, so the broker's RSS stays bounded (mapped pages count in RSS). Measured here with 1M queued
    /// 1 KiB messages: 0 gives RSS about 270 MB and a publish rate at that depth about half the rate into
    /// an empty queue; 1 GiB keeps the rate flat but RSS grows to about 750 MB. At most 64 GiB.
    /// </summary>
    public long SqliteMmapBytes { get; set; }

    /// <summary>
    /// Space the silo keeps free for its data before it refuses publishes, with <see cref="BrokerStorage.Sqlite"/> (the
    /// disk alarm; other storage has no local disk). Bytes with a unit (<c>1GiB</c>, <c>500MB</c>), a share of the data
    /// folder's disk (<c>5%</c>), or <c>0</c> for no alarm. Space counts the file system's free space plus the database's
    /// free pages, so consumers draining a queue clear the alarm. Default <c>1GiB</c>.
    /// </summary>
    public string DiskFreeLimit { get; set; } = "1GiB";

    /// <summary>
    /// Disk space the silo holds back in a file beside its SQLite database (<c>broker.db-reserve</c>) and gives up when a
    /// write finds the disk full, so that acks and consumers draining queues go on after something else filled the disk;
    /// made again once there is room. Default 8 MiB; 0 for none; at most 1 GiB.
    /// </summary>
    public long DiskReserveBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary><see cref="DiskFreeLimit"/> as read by <see cref="Validate"/>.</summary>
    internal global::OrleansBroker.Server.Storage.DiskFreeLimit ParsedDiskFreeLimit { get; private set; }

    /// <summary>How often the disk alarm measures the data folder's disk besides after every commit. Default 1 s; 100 ms to 1 min.</summary>
    public TimeSpan DiskCheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Largest message body accepted. Default 1 MiB; at most 16 MiB.</summary>
    public int MaxMessageBytes { get; set; } = BrokerLimits.DefaultMaxMessageBytes;

    /// <summary>A log commit stops taking more publishes once its segment holds this many bytes. Default 1 MiB.</summary>
    public int SegmentMaxBytes { get; set; } = 1024 * 1024;

    /// <summary>A log commit stops taking more publishes once its segment holds this many messages. Default 2000.</summary>
    public int SegmentMaxMessages { get; set; } = 2000;

    /// <summary>
    /// Bytes of message bodies one queue keeps in memory. A deeper queue keeps only a small index entry
    /// per message (about 100 bytes) and reads the bodies furthest from delivery back from storage when
    /// delivery reaches them. Default 16 MiB; at least <see cref="SegmentMaxBytes"/>.
    /// </summary>
    public long ResidentBytesPerQueue { get; set; } = 16 * 1024 * 1024;

    /// <summary>
    /// How long a queue's commit that holds no publishes (acks, nacks, attempt counts) waits for a publish to share
    /// its storage write, so that a queue under steady publish and consume pays one fsync where it would pay two.
    /// Default 1 ms; 0 commits at once; at most 1 s. A publish never waits, and an ack still returns only once durable.
    /// </summary>
    public TimeSpan CommitLinger { get; set; } = TimeSpan.FromMilliseconds(1);

    /// <summary>How often consumers renew their registration. Default 10 s; a consumer silent for three intervals is dropped.</summary>
    public TimeSpan ConsumerRenewInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>How often a queue checks for expired leases. Default 1 s: a lease ends at most this late.</summary>
    public TimeSpan LeaseCheckInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// Period of the reminder a queue holds while deliveries are outstanding: after a deactivation or
    /// a silo restart it comes back within this time and redelivers or dead-letters what expired.
    /// Default 1 min (Orleans' minimum reminder period; a shorter one lowers that minimum on this silo).
    /// </summary>
    public TimeSpan ReminderPeriod { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Full path of the SQLite database file.</summary>
    public string SqlitePath => Path.GetFullPath(Path.Combine(DataDirectory, "broker.db"));

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) naming the first bad setting.</summary>
    public void Validate()
    {
        ValidateStorage();
        ValidateQueues();
        ValidateDisk();
        if (ReminderPeriod < TimeSpan.FromSeconds(1))
        {
            Fail("Broker:ReminderPeriod must be at least 1 s.");
        }
    }

    private void ValidateStorage()
    {
        if (!Enum.IsDefined(Storage))
        {
            Fail($"Broker:Storage '{Storage}' is unknown; use sqlite, azure or memory.");
        }

        if (Storage == BrokerStorage.Sqlite && string.IsNullOrWhiteSpace(DataDirectory))
        {
            Fail("Broker:DataDirectory is empty; the sqlite storage needs a folder.");
        }

        if (Storage == BrokerStorage.Azure && string.IsNullOrWhiteSpace(AzureConnectionString))
        {
            Fail("Broker:AzureConnectionString is required with Broker:Storage=azure.");
        }

        if (Storage == BrokerStorage.Azure)
        {
            try
            {
                // Reads the string only (no call is made): a malformed one is a setting error here, not a crash later.
                _ = new Azure.Storage.Blobs.BlobServiceClient(AzureConnectionString);
            }
            catch (Exception exception) when (exception is FormatException or ArgumentException or InvalidOperationException)
            {
                Fail($"Broker:AzureConnectionString is not an Azure Storage connection string: {exception.Message}");
            }
        }

        if (SqliteMmapBytes < 0 || SqliteMmapBytes > 64L * 1024 * 1024 * 1024)
        {
            Fail($"Broker:SqliteMmapBytes {SqliteMmapBytes} is out of range 0..68719476736 (64 GiB).");
        }
    }

    private void ValidateQueues()
    {
        if (MaxMessageBytes < 1 || MaxMessageBytes > BrokerLimits.AbsoluteMaxMessageBytes)
        {
            Fail($"Broker:MaxMessageBytes {MaxMessageBytes} is out of range 1..{BrokerLimits.AbsoluteMaxMessageBytes}.");
        }

        if (SegmentMaxBytes < 1024 || SegmentMaxMessages < 1)
        {
            Fail("Broker:SegmentMaxBytes must be at least 1024 and Broker:SegmentMaxMessages at least 1.");
        }

        if (ResidentBytesPerQueue < SegmentMaxBytes)
        {
            Fail($"Broker:ResidentBytesPerQueue {ResidentBytesPerQueue} must be at least Broker:SegmentMaxBytes ({SegmentMaxBytes}).");
        }

        if (CommitLinger < TimeSpan.Zero || CommitLinger > TimeSpan.FromSeconds(1))
        {
            Fail($"Broker:CommitLinger {CommitLinger} is out of range 0..00:00:01.");
        }

        if (ConsumerRenewInterval < TimeSpan.FromMilliseconds(100) || LeaseCheckInterval < TimeSpan.FromMilliseconds(10))
        {
            Fail("Broker:ConsumerRenewInterval must be at least 100 ms and Broker:LeaseCheckInterval at least 10 ms.");
        }
    }

    private void ValidateDisk()
    {
        if (!global::OrleansBroker.Server.Storage.DiskFreeLimit.TryParse(DiskFreeLimit, out var diskFreeLimit))
        {
            Fail($"Broker:DiskFreeLimit '{DiskFreeLimit}' is not a size (1GiB, 500MB, 1048576), a share of the disk (5%) or 0 for no limit.");
        }

        ParsedDiskFreeLimit = diskFreeLimit;
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
