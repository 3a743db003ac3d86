namespace OrleansBroker.Queues;

/// <summary>A snapshot of a queue: its options, depth and lifetime counters.</summary>
/// <param name="Name">Queue name.</param>
/// <param name="Options">Options the queue was created with.</param>
/// <param name="Ready">Messages waiting for a consumer, those waiting for a retry time included.</param>
/// <param name="InFlight">Messages delivered and not yet settled (leased).</param>
/// <param name="Consumers">Consumers registered now.</param>
/// <param name="Counters">Counters since the queue was created.</param>
/// <param name="CreatedAt">When the queue was created.</param>
/// <param name="Delayed">Of <paramref name="Ready"/>, messages waiting for a retry or scheduled time.</param>
/// <param name="Bytes">Body bytes of all messages the queue holds (what <see cref="QueueOptions.MaxBytes"/> limits).</param>
/// <param name="Partitions">
/// Of a partitioned queue, each partition's share and the silo hosting it; the figures above are their sums (consumers:
/// the most any partition has, since each consumer registers with every partition). Empty for a queue of one partition.
/// </param>
/// <param name="PublishesRefused">
/// Why publishes to the queue are refused now with <c>StorageFull</c> (the disk alarm of a silo hosting it: free disk space
/// below <c>Broker:DiskFreeLimit</c>), or null while they are taken. Deliveries and acks go on either way.
/// </param>
/// <param name="Push">What its push delivery is doing (see <see cref="QueueOptions.Push"/>), or null for a queue without one.</param>
[GenerateSerializer, Immutable, Alias("ob.queue-info")]
public sealed record QueueInfo(
    [property: Id(0)] string Name,
    [property: Id(1)] QueueOptions Options,
    [property: Id(2)] long Ready,
    [property: Id(3)] long InFlight,
    [property: Id(4)] int Consumers,
    [property: Id(5)] QueueCounters Counters,
    [property: Id(6)] DateTimeOffset CreatedAt,
    [property: Id(7)] long Delayed = 0,
    [property: Id(8)] long Bytes = 0,
    [property: Id(9)] IReadOnlyList<QueuePartitionInfo>? Partitions = null,
    [property: Id(10)] string? PublishesRefused = null,
    [property: Id(11)] PushStatus? Push = null)
{
    /// <summary>All messages the queue holds: ready plus in flight.</summary>
    public long Depth => Ready + InFlight;

    /// <summary>
    /// Whether the queue was in memory when asked. False only in lists (<see cref="IQueueFiguresGrain"/>): a queue that nobody
    /// called for a while (<c>Broker:QueueIdleTime</c>) is answered from what it last stored, without loading it. Then it has no
    /// consumers and no deliveries out (apart from ones a silo handed over on shutdown, until they expire), and messages
    /// waiting for a scheduled or retry time are counted in <see cref="Ready"/> but not in <see cref="Delayed"/>.
    /// </summary>
    [Id(12)]
    public bool InMemory { get; init; } = true;
}

/// <summary>Lifetime counters of a queue, persisted with it. <c>Expired</c>: reached their time to live (dropped or dead-lettered). <c>Dropped</c>: removed by the overflow policy.</summary>
[GenerateSerializer, Immutable, Alias("ob.queue-counters")]
public sealed record QueueCounters(
    [property: Id(0)] long Published,
    [property: Id(1)] long Delivered,
    [property: Id(2)] long Redelivered,
    [property: Id(3)] long Acked,
    [property: Id(4)] long DeadLettered,
    [property: Id(5)] long Purged,
    [property: Id(6)] long Expired = 0,
    [property: Id(7)] long Dropped = 0);

/// <summary>One partition of a partitioned queue, as <see cref="QueueInfo.Partitions"/> lists it.</summary>
/// <param name="Name">The partition's grain name (<c>&lt;queue&gt;~i</c>; partition 0 is the queue's own name).</param>
/// <param name="Ready">Messages waiting here.</param>
/// <param name="InFlight">Messages delivered from here and not yet settled.</param>
/// <param name="Consumers">Consumers registered here.</param>
/// <param name="Silo">The silo hosting the partition now; empty in a list's figures of a queue not in memory (<see cref="QueueInfo.InMemory"/> false).</param>
/// <param name="Held">A partition added by growth whose keyed messages wait until the partition their keys came from has settled theirs.</param>
[GenerateSerializer, Immutable, Alias("ob.queue-partition-info")]
public sealed record QueuePartitionInfo(
    [property: Id(0)] string Name,
    [property: Id(1)] long Ready,
    [property: Id(2)] long InFlight,
    [property: Id(3)] int Consumers,
    [property: Id(4)] string Silo,
    [property: Id(5)] bool Held = false);
