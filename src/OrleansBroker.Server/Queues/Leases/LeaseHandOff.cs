using Microsoft.Extensions.Logging;
using OrleansBroker.Server.Log;
using OrleansBroker.Server.Queues.Dispatch;
using OrleansBroker.Server.Queues.Scheduling;

namespace OrleansBroker.Server.Queues.Leases;

/// <summary>
/// Graceful hand-off: a queue that deactivates in order (its silo shuts down, or Orleans moves it) writes the leases it has out
/// with its final commit and tells its consumers it is moving. The next activation, on whichever silo, keeps those messages leased
/// to the same consumer with the same token until the lease's own expiry: the consumer's acks land there, and nothing is delivered
/// twice. A crash hands nothing off: the next activation delivers what was out again (at-least-once).
/// </summary>
/// <remarks>
/// <c>consumerTimeout</c>: How long a consumer's registration lasts without renewal.
/// </remarks>
internal sealed partial class LeaseHandOff(QueueState queue, Dispatcher dispatcher, Retries retries, TimeSpan consumerTimeout, ILogger logger)
{
    /// <summary>How long a graceful deactivation waits for deliveries already on their way to consumers to be confirmed.</summary>
    private static readonly TimeSpan SendWait = TimeSpan.FromSeconds(1);

    /// <summary>Leases the previous activation handed off, by sequence, until recovery reaches their messages.</summary>
    private Dictionary<long, HandedOffLease> _handedOff = [];

    /// <summary>When handed-off leases whose consumer has not registered again end, as that consumer's registration would have.</summary>
    private DateTimeOffset? _orphansEndAt;

    /// <summary>Whether a settle or extension of <paramref name="sequence"/> must wait for recovery to lease its message again.</summary>
    public bool IsPending(long sequence) => _handedOff.ContainsKey(sequence);

    /// <summary>Whether any handed-off lease still waits for recovery to reach its message.</summary>
    public bool AnyPending => _handedOff.Count > 0;

    /// <summary>Whether handed-off leases of consumers that did not register again are still to be ended (<see cref="EndOrphaned"/>).</summary>
    public bool OrphansWaiting => _orphansEndAt is not null;

    /// <summary>On activation: takes the leases the previous activation stored, before recovery hands back their messages.</summary>
    public void Take()
    {
        var log = queue.Log;
        if (log.Meta.Leases.Count == 0)
        {
            return;
        }

        _orphansEndAt = queue.Time.GetUtcNow() + consumerTimeout;
        _handedOff = log.Meta.Leases.ToDictionary(l => l.Sequence);
        log.UpdateMeta(meta => meta.Leases = []);
        LogLeasesTaken(logger, queue.Name, _handedOff.Count);
    }

    /// <summary>A recovered message the previous activation had out: leased again as it was, unless that lease is over.</summary>
    public bool TryRestore(LogEntry entry)
    {
        if (!_handedOff.Remove(entry.Sequence, out var handed))
        {
            return false;
        }

        var now = queue.Time.GetUtcNow();
        var expiresAt = new DateTimeOffset(handed.ExpiresAtTicks, TimeSpan.Zero);
        if (expiresAt <= now || (entry.ExpiresAt != 0 && entry.ExpiresAt <= now.UtcTicks))
        {
            return false;
        }

        queue.Leases.Restore(entry.Sequence, handed.ConsumerId, handed.Token, expiresAt);
        if (queue.Consumers.TryGet(handed.ConsumerId, out var consumer))
        {
            consumer.InFlight++;
        }

        // In flight, it holds its group's turn: the key's later messages wait for its ack.
        queue.Ready.HoldTurn(entry);
        return true;
    }

    /// <summary>
    /// A consumer that held handed-off leases and has not registered with this activation within its registration's lifetime is
    /// gone: its leases end now, as they would have had it been dropped here, instead of at their own (possibly long) expiry.
    /// </summary>
    public void EndOrphaned(DateTimeOffset now)
    {
        if (_orphansEndAt is not { } at || now < at)
        {
            return;
        }

        _orphansEndAt = null;
        foreach (var (sequence, lease) in queue.Leases.HeldBy(id => !queue.Consumers.Contains(id)))
        {
            if (dispatcher.TryEndLease(sequence, lease.Token, out var entry))
            {
                LogOrphanedLeaseEnded(logger, queue.Name, sequence, lease.ConsumerId, entry.Attempts);
                retries.ReturnToReady(entry, recovered: false);
            }
        }
    }

    /// <summary>
    /// On a graceful deactivation: the leases the consumers are known to hold go into the final commit, and the consumers are told
    /// to register again at once. A delivery not confirmed received (still queued, or its call did not return within
    /// <see cref="SendWait"/>) is not handed off: the next activation delivers it again.
    /// </summary>
    public async Task HandOffAsync()
    {
        var sends = dispatcher.SendsUnderWay().ToList();
        if (sends.Count > 0)
        {
            await Task.WhenAny(Task.WhenAll(sends), Task.Delay(SendWait));
        }

        if (!queue.Log.Meta.Created || queue.Leases.Count == 0 && queue.Consumers.Count == 0)
        {
            return;
        }

        var leases = queue.Leases.All.Where(l => l.Value.Received)
            .Select(l => new HandedOffLease(l.Key, l.Value.ConsumerId, l.Value.Token, l.Value.ExpiresAt.UtcTicks)).ToList();
        queue.Log.UpdateMeta(meta => meta.Leases = leases);
        foreach (var consumer in queue.Consumers.All)
        {
            _ = consumer.Observer.Moving();
        }

        LogLeasesHandedOff(logger, queue.Name, leases.Count, queue.Consumers.Count);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: consumer {Consumer} did not register again after the hand-off; message {Sequence} (attempt {Attempts}) is no longer leased to it")]
    private static partial void LogOrphanedLeaseEnded(ILogger logger, string queue, long sequence, string consumer, int attempts);

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: deactivating with {Leases} deliveries out; they stay leased to their consumers in the next activation ({Consumers} consumers told to register again)")]
    private static partial void LogLeasesHandedOff(ILogger logger, string queue, int leases, int consumers);

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: took over {Leases} leases from the previous activation")]
    private static partial void LogLeasesTaken(ILogger logger, string queue, int leases);
}
