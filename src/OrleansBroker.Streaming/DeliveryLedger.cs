using System.Collections.Concurrent;

namespace OrleansBroker.Streaming;

/// <summary>
/// The outcome each cached event is waiting for, by the sequence number of its stream token, shared by one Orleans
/// queue's receiver and its failure handler. The broker delivery behind each event is held by a handler of the
/// receiver's consumer (which keeps its lease alive) until its outcome is set: released (every consumer of the stream
/// had it, so the handler returns and the delivery is acked) or failed (a consumer threw, with the reason).
/// </summary>
internal sealed class DeliveryLedger
{
    private readonly ConcurrentDictionary<long, TaskCompletionSource<string?>> _open = new();

    /// <summary>Registers an event; the task completes with null when it is released, or with the reason it failed.</summary>
    public void Add(long token, TaskCompletionSource<string?> outcome) => _open[token] = outcome;

    /// <summary>The agent's cache released these events: every consumer of their streams had them.</summary>
    public void Release(IEnumerable<long> tokens)
    {
        foreach (var token in tokens)
        {
            if (_open.TryRemove(token, out var outcome))
            {
                outcome.TrySetResult(null);
            }
        }
    }

    /// <summary>A consumer failed on the event; a second failure of it (another consumer of the stream) finds it settled and does nothing.</summary>
    public void Fail(long token, string reason)
    {
        if (_open.TryRemove(token, out var outcome))
        {
            outcome.TrySetResult(reason);
        }
    }
}
