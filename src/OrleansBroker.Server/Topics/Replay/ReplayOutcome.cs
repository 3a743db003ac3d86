using OrleansBroker.Errors;

namespace OrleansBroker.Server.Topics.Replay;

/// <summary>How a replay ended: where it got, whether it reached the end, and the error that stopped it, if one did.</summary>
internal sealed record ReplayOutcome(ReplayCursor Cursor, bool Done, BrokerException? Error);
