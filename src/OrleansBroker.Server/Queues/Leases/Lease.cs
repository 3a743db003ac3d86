namespace OrleansBroker.Server.Queues.Leases;

/// <summary>A message delivered to a consumer and not settled yet.</summary>
internal sealed class Lease(string consumerId, long token, DateTimeOffset expiresAt)
{
    public string ConsumerId { get; } = consumerId;

    public long Token { get; } = token;

    public DateTimeOffset ExpiresAt { get; set; } = expiresAt;

    /// <summary>Whether the consumer is known to have the delivery (its Deliver call returned): only such leases are handed off.</summary>
    public bool Received { get; set; }
}
