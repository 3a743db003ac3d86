namespace OrleansBroker.Server.Log;

/// <summary>How a log cuts its commits into segment records.</summary>
/// <param name="SegmentMaxBytes">A commit stops taking more publishes once its segment holds this many bytes (one publish call is never split).</param>
/// <param name="SegmentMaxMessages">A commit stops taking more publishes once its segment holds this many messages.</param>
internal sealed record MessageLogOptions(int SegmentMaxBytes, int SegmentMaxMessages);
