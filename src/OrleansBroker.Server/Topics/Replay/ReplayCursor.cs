namespace OrleansBroker.Server.Topics.Replay;

/// <summary>
/// A replay of retained messages to a subscription, stored with the topic and moved on after every page, so that a replay
/// cut short (the silo restarted, the topic moved, storage failed for a while) goes on from where it was instead of being
/// lost or starting over.
/// </summary>
/// <param name="Id">Names this replay: a later seek or subscribe of the same subscription replaces it, and the old one stops.</param>
/// <param name="Subscription">The subscription replayed to.</param>
/// <param name="Since">Messages retained at or after this time are replayed ...</param>
/// <param name="Until">... up to this time (when the replay began: later messages reach the subscription live).</param>
/// <param name="Deduplicate">Through the queue's deduplication (a subscribe: a message may have arrived live too), or not (a seek, after a purge).</param>
/// <param name="After">The retained sequence the next page starts after.</param>
/// <param name="Replayed">Messages handed to the subscription so far.</param>
[GenerateSerializer, Immutable, Alias("ob.replay-cursor")]
internal sealed record ReplayCursor(
    [property: Id(0)] string Id,
    [property: Id(1)] string Subscription,
    [property: Id(2)] DateTimeOffset Since,
    [property: Id(3)] DateTimeOffset Until,
    [property: Id(4)] bool Deduplicate,
    [property: Id(5)] long After,
    [property: Id(6)] long Replayed);
