namespace OrleansBroker.Server.Log;

/// <summary>How a log cuts its commits into segment records and how many bodies it keeps in memory.</summary>
/// <param name="SegmentMaxBytes">A commit stops taking more publishes once its segment holds this many bytes (one publish call is never split).</param>
/// <param name="SegmentMaxMessages">A commit stops taking more publishes once its segment holds this many messages.</param>
/// <param name="ResidentBytes">
/// Bytes of message bodies kept in memory. Past it, the segments delivery reaches last (lowest priority, newest)
/// are paged out and read back when delivery reaches them.
/// </param>
/// <param name="CommitLinger">
/// How long a commit that holds no publishes (settles, attempt counts, counters) waits for a publish to share its
/// storage write; zero commits at once. A publish never waits. Callers still return only once their change is durable.
/// </param>
internal sealed record MessageLogOptions(int SegmentMaxBytes, int SegmentMaxMessages, long ResidentBytes, TimeSpan CommitLinger = default);
