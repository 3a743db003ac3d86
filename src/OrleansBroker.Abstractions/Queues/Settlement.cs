namespace OrleansBroker.Queues;

/// <summary>How a consumer settles a delivery. Values are persisted and never change.</summary>
public enum SettleKind
{
    /// <summary>Done: the message is removed for good.</summary>
    Ack = 0,

    /// <summary>
    /// Give it back: it is delivered again after the queue's retry backoff (<see cref="QueueOptions.Retry"/>,
    /// at once by default) or after <see cref="Settlement.Delay"/> when given; each delivery counts as an attempt.
    /// </summary>
    Requeue = 1,

    /// <summary>Move it to the queue's dead-letter queue now, with the given reason.</summary>
    DeadLetter = 2,
}

/// <summary>One settle request for one delivery, identified by its sequence and lease token.</summary>
/// <param name="Sequence">The delivery's sequence.</param>
/// <param name="LeaseToken">The delivery's lease token.</param>
/// <param name="Kind">Ack, requeue or dead-letter.</param>
/// <param name="Reason">Why, for a dead-letter nack; stored in the dead letter's headers.</param>
/// <param name="Delay">
/// With <see cref="SettleKind.Requeue"/>: redeliver after this wait instead of the queue's retry
/// backoff (0 = at once; at most <see cref="RetryPolicy.MaxRetryDelay"/>).
/// </param>
[GenerateSerializer, Immutable, Alias("ob.settle")]
public sealed record Settlement(
    [property: Id(0)] long Sequence,
    [property: Id(1)] long LeaseToken,
    [property: Id(2)] SettleKind Kind,
    [property: Id(3)] string? Reason = null,
    [property: Id(4)] TimeSpan? Delay = null);

/// <summary>The outcome of one <see cref="Settlement"/>. Values never change.</summary>
public enum SettleStatus
{
    /// <summary>Settled as asked.</summary>
    Ok = 0,

    /// <summary>The lease had expired or the delivery was settled already; nothing changed.</summary>
    LeaseLost = 1,
}
