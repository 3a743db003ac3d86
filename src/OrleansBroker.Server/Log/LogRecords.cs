using OrleansBroker.Queues;

namespace OrleansBroker.Server.Log;

/// <summary>
/// The queue's small metadata record (<c>meta</c>), rewritten on every commit. Its size does not
/// depend on the queue's depth.
/// </summary>
[GenerateSerializer, Alias("ob.log-meta")]
internal sealed class LogMeta
{
    [Id(0)] public bool Created { get; set; }

    [Id(1)] public QueueOptions Options { get; set; } = new();

    [Id(2)] public DateTimeOffset CreatedAt { get; set; }

    /// <summary>Next sequence number to hand out; never reused, also across delete and re-create.</summary>
    [Id(3)] public long NextSequence { get; set; } = 1;

    /// <summary>Lowest segment id that may still be live; every segment below it is deleted.</summary>
    [Id(4)] public long FirstSegment { get; set; }

    /// <summary>Next segment id to write; segments at or above it are not part of the log.</summary>
    [Id(5)] public long NextSegment { get; set; }

    [Id(6)] public QueueCounters Counters { get; set; } = new(0, 0, 0, 0, 0, 0);

    /// <summary>Live (unsettled) messages, kept with every commit so that depth is known before recovery has read every segment.</summary>
    [Id(7)] public long Live { get; set; }

    /// <summary>Whether <see cref="Live"/> is kept; false in a log written before it was, which is counted once on recovery.</summary>
    [Id(8)] public bool LiveCounted { get; set; }

    /// <summary>Body bytes of the live messages, kept like <see cref="Live"/>.</summary>
    [Id(9)] public long LiveBytes { get; set; }

    /// <summary>Whether <see cref="LiveBytes"/> is kept; false in a log written before it was, which is counted once on recovery.</summary>
    [Id(10)] public bool BytesCounted { get; set; }

    /// <summary>Lowest deduplication record id that may still be in use (<c>d{id}</c>).</summary>
    [Id(11)] public long FirstDedup { get; set; }

    /// <summary>Next deduplication record id to write; records at or above it are not part of the log.</summary>
    [Id(12)] public long NextDedup { get; set; }

    /// <summary>
    /// Deliveries out when the queue last deactivated gracefully (silo shutdown, a move): the next activation keeps them leased
    /// to the same consumer and token until they expire, so the consumer's acks still land and nothing is delivered twice.
    /// Cleared by the next commit after that activation has read it.
    /// </summary>
    [Id(13)] public List<HandedOffLease> Leases { get; set; } = [];

    /// <summary>On a partition added by growth: the partition its keys came from; -1 otherwise.</summary>
    [Id(14)] public int GrownFrom { get; set; } = -1;

    /// <summary>On a partition added by growth: keyed messages wait while its source still holds messages of its keys.</summary>
    [Id(15)] public bool HeldForGrowth { get; set; }

    /// <summary>When this partition was added by growth: within the dedup window after it, ids are also looked up at the source.</summary>
    [Id(16)] public DateTimeOffset GrownAt { get; set; }

    /// <summary>On partition 0: the count a growth under way goes to (0 when none); no other count is taken until it is done.</summary>
    [Id(17)] public int GrowingTo { get; set; }

    /// <summary>
    /// The ids of the live segments as [start, end) pairs (<see cref="SegmentRanges"/>), so recovery reads only those; null
    /// where not kept (a log written before it was, or whose live segments are too scattered), and recovery tries every id.
    /// </summary>
    [Id(18)] public List<long>? LiveSegments { get; set; }

    /// <summary>
    /// The settle state of the segments changed by this commit and by the one before it. A segment's settle record
    /// (<c>a{id}</c>) is written one commit late, only ever with a state a landed metadata holds: whatever part of a
    /// commit a crash cuts off, recovery finds each segment's settles as the metadata counted them (<see cref="SettleCarry"/>).
    /// </summary>
    [Id(19)] public List<CarriedSettles> CarriedSettles { get; set; } = [];

    /// <summary>The segment this commit wrote, if it wrote one: recovery checks that it landed with the metadata.</summary>
    [Id(20)] public WrittenSegment? Written { get; set; }

    /// <summary>A copy for a commit to write: the metadata in memory moves on (settles, counts) while the write is under way.</summary>
    public LogMeta Copy()
    {
        var copy = (LogMeta)MemberwiseClone();
        copy.Leases = [.. Leases];
        copy.LiveSegments = LiveSegments is null ? null : [.. LiveSegments];
        copy.CarriedSettles = [.. CarriedSettles];
        return copy;
    }
}

/// <summary>
/// A segment's settle state carried in the metadata (<see cref="LogMeta.CarriedSettles"/>); <see cref="State"/> null when
/// every message of the segment is settled and its records are to be deleted.
/// </summary>
[GenerateSerializer, Alias("ob.carried-settles")]
internal sealed record CarriedSettles(
    [property: Id(0)] long Segment,
    [property: Id(1)] SegmentStateRecord? State);

/// <summary>The segment a commit wrote, as its metadata counted it (<see cref="LogMeta.Written"/>).</summary>
[GenerateSerializer, Immutable, Alias("ob.written-segment")]
internal sealed record WrittenSegment(
    [property: Id(0)] long Id,
    [property: Id(1)] long FirstSequence,
    [property: Id(2)] int Count,
    [property: Id(3)] long Bytes);

/// <summary>A lease handed from one activation of a queue to the next (see <see cref="LogMeta.Leases"/>).</summary>
[GenerateSerializer, Immutable, Alias("ob.handed-off-lease")]
internal sealed record HandedOffLease(
    [property: Id(0)] long Sequence,
    [property: Id(1)] string ConsumerId,
    [property: Id(2)] long Token,
    [property: Id(3)] long ExpiresAtTicks);

/// <summary>A producer-set message id the queue accepted: a repeat within the dedup window gets this receipt.</summary>
[GenerateSerializer, Immutable, Alias("ob.dedup-mark")]
internal sealed record DedupMark(
    [property: Id(0)] string MessageId,
    [property: Id(1)] long Sequence,
    [property: Id(2)] long AcceptedTicks);

/// <summary>
/// A deduplication record (<c>d{id}</c>): the producer-set ids of one commit, written with it and
/// deleted once the newest is older than the queue's dedup window. It outlives the messages' segments
/// (an acked message is still a duplicate when published again), and costs a few dozen bytes per id.
/// </summary>
[GenerateSerializer, Alias("ob.log-dedup")]
internal sealed class DedupRecord
{
    [Id(0)] public List<DedupMark> Marks { get; set; } = [];
}

/// <summary>One segment record (<c>s{id}</c>): the messages of one commit, written once, deleted when all are settled.</summary>
[GenerateSerializer, Alias("ob.log-segment")]
internal sealed class SegmentRecord
{
    [Id(0)] public List<StoredMessage> Messages { get; set; } = [];
}

/// <summary>
/// A segment's settle record (<c>a{id}</c>): which of its messages are settled, the delivery
/// attempts of those redelivered and the retry time of those waiting for one. Small: a bit per
/// message plus the redelivered ones.
/// </summary>
[GenerateSerializer, Alias("ob.log-segment-state")]
internal sealed class SegmentStateRecord
{
    [Id(0)] public byte[] Settled { get; set; } = [];

    [Id(1)] public Dictionary<long, int> Attempts { get; set; } = [];

    /// <summary>Sequence to the UTC ticks before which it must not be delivered (retry backoff).</summary>
    [Id(2)] public Dictionary<long, long> NotBefore { get; set; } = [];

    /// <summary>A copy whose maps the original's later changes do not reach.</summary>
    public SegmentStateRecord Copy(byte[]? settled = null) => new()
    {
        Settled = settled ?? Settled,
        Attempts = new Dictionary<long, int>(Attempts),
        NotBefore = new Dictionary<long, long>(NotBefore),
    };
}
