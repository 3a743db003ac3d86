namespace OrleansBroker.Server.Log;

/// <summary>How a log cuts its commits into segment records and how many bodies it keeps in memory.</summary>
/// <param name="SegmentMaxBytes">A commit stops taking more publishes once its segment holds this many bytes (one publish call is never split).</param>
/// <param name="SegmentMaxMessages">A commit stops taking more publishes once its segment holds this many messages.</param>
/// <param name="ResidentBytes">
/// Bytes of message bodies kept in memory. Past it, the segments furthest from delivery (highest ids)
/// are paged out and read back when delivery reaches them.
/// </param>
internal sealed record MessageLogOptions(int SegmentMaxBytes, int SegmentMaxMessages, long ResidentBytes);
