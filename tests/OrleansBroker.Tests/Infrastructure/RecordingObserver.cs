using System.Collections.Concurrent;
using OrleansBroker.Messages;
using OrleansBroker.Queues;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>
/// A raw consumer observer for tests that talk to a queue grain directly: it keeps what it is given and never settles or renews
/// on its own (a client that went away, unless the test acts for it). Its next Deliver can be made to fail, as a batch lost on
/// its way would; it ignores Moving, as a client that is gone would.
/// </summary>
internal sealed class RecordingObserver : IConsumerObserver
{
    private readonly ConcurrentQueue<Delivery> _received = new();
    private volatile bool _failNext;

    /// <summary>When set, the next Deliver throws (and clears it) instead of taking the batch.</summary>
    public bool FailNext { get => _failNext; set => _failNext = value; }

    /// <summary>Deliveries received and not yet taken by <see cref="NextAsync"/>.</summary>
    public int Received => _received.Count;

    public Task Deliver(IReadOnlyList<Delivery> deliveries)
    {
        if (_failNext)
        {
            _failNext = false;
            throw new IOException("lost on the way");
        }

        foreach (var delivery in deliveries)
        {
            _received.Enqueue(delivery);
        }

        return Task.CompletedTask;
    }

    public Task Moving() => Task.CompletedTask;

    /// <summary>The next delivery, waiting for one to arrive.</summary>
    public async Task<Delivery> NextAsync()
    {
        Delivery? next = null;
        await Eventually.HoldsAsync(() => _received.TryDequeue(out next), "a delivery");
        return next!;
    }
}
