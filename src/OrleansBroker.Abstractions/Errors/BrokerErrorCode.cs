namespace OrleansBroker.Errors;

/// <summary>What went wrong, as a stable number clients can switch on. Values never change.</summary>
public enum BrokerErrorCode
{
    /// <summary>A queue name breaks the naming rules.</summary>
    InvalidName = 1,

    /// <summary>The queue does not exist; create it first.</summary>
    QueueNotFound = 2,

    /// <summary>The queue exists with different options.</summary>
    QueueExistsWithOtherOptions = 3,

    /// <summary>The message body is larger than the silo's limit.</summary>
    MessageTooLarge = 4,

    /// <summary>A message field (id, headers, routing key, content type) breaks a limit.</summary>
    InvalidMessage = 5,

    /// <summary>The delivery's lease expired or was settled already; the message may be delivered again.</summary>
    LeaseLost = 6,

    /// <summary>Queue or consumer options are out of range.</summary>
    InvalidOptions = 7,

    /// <summary>A publish batch is empty or holds more than <see cref="BrokerLimits.MaxBatchCount"/> messages.</summary>
    InvalidBatch = 8,

    /// <summary>The broker could not store the request; nothing from it was accepted. Safe to retry.</summary>
    StorageUnavailable = 9,

    /// <summary>The queue is at its length or byte limit and rejects publishes (<c>Overflow = RejectPublish</c>); nothing of the publish was stored. Retry after consumers catch up.</summary>
    QueueFull = 10,

    /// <summary>The topic does not exist; create it first.</summary>
    TopicNotFound = 11,

    /// <summary>A subscription filter is malformed (routing-key pattern or header predicate); the subscription was not created.</summary>
    InvalidFilter = 12,

    /// <summary>
    /// The message's key (ordering key, else message id) belongs to another partition of the queue: the caller's
    /// partition count is out of date. Nothing was stored; the client refreshes the count and publishes again.
    /// </summary>
    WrongPartition = 13,

    /// <summary>
    /// The silo's disk is short of space (free space on its data folder is below <c>Broker:DiskFreeLimit</c>, or a write
    /// found the disk full): publishes are refused and nothing of this one was stored. Deliveries and acks go on, so
    /// consumers drain the queue; publishing works again by itself once space returns. Retry later.
    /// </summary>
    StorageFull = 14,

    /// <summary>
    /// The broker failed on this request in a way it did not expect. The silo's log has the cause under the error's
    /// <see cref="BrokerException.CorrelationId"/>. A publish that fails with it may or may not have been stored:
    /// publish again with the same message id to be sure without a duplicate.
    /// </summary>
    Internal = 15,

    /// <summary>No user or API key of that name exists.</summary>
    PrincipalNotFound = 16,

    /// <summary>A user or API key of that name exists already; names are unique among both.</summary>
    PrincipalExists = 17,

    /// <summary>The request carried no credentials, or ones the broker does not accept (HTTP 401).</summary>
    Unauthenticated = 18,

    /// <summary>The principal is known but has no permission for this operation on this name in this tenant (HTTP 403).</summary>
    Forbidden = 19,

    /// <summary>The principal sent more requests than its configured rate allows; retry after the time given (HTTP 429).</summary>
    RateLimited = 20,

    /// <summary>
    /// The client lost its connection to a silo while the call was in flight, and the call had no answer soon after
    /// (<c>Broker:SiloLossGrace</c>): the silo holding the queue, or the gateway the call went through, is gone. A publish that
    /// fails with it may or may not have been stored: publish again with the same message id to be sure without a duplicate.
    /// </summary>
    SiloLost = 21,
}
