using Microsoft.Extensions.Logging;
using OrleansBroker.Server.Log;

namespace OrleansBroker.Server.Queues;

/// <summary>
/// Graceful hand-off: a queue that deactivates in order (its silo shuts down, or Orleans moves it) writes the leases it has out
/// with its final commit and tells its consumers it is moving. The next activation, on whichever silo, keeps those messages leased
/// to the same consumer with the same token until the lease's own expiry: the consumer's acks land there, and nothing is delivered
/// twice. A crash hands nothing off: the next activation delivers what was out again (at-least-once), as before.
/// </summary>
internal sealed partial class QueueGrain
{
    /// <summary>Leases the previous activation handed off, by sequence, until recovery reaches their messages.</summary>
    private Dictionary<long, HandedOffLease> _handedOff = [];

    /// <summary>When handed-off leases whose consumer has not registered again end, as that consumer's registration would have.</summary>
    private DateTimeOffset? _orphansEndAt;

    private void TakeHandedOffLeases()
    {
        if (_log.Meta.Leases.Count == 0)
        {
            return;
        }

        _orphansEndAt = _time.GetUtcNow() + _options.ConsumerRenewInterval * 3;

        _handedOff = _log.Meta.Leases.ToDictionary(l => l.Sequence);
        _log.UpdateMeta(meta => meta.Leases = []);
        LogLeasesTaken(_name, _handedOff.Count);
    }

    /// <summary>A recovered message the previous activation had out: leased again as it was, unless that lease is over.</summary>
    private bool TryRestoreLease(LogEntry entry)
    {
        if (!_handedOff.Remove(entry.Sequence, out var handed))
        {
            return false;
        }

        var now = _time.GetUtcNow();
        var expiresAt = new DateTimeOffset(handed.ExpiresAtTicks, TimeSpan.Zero);
        if (expiresAt <= now || (entry.ExpiresAt != 0 && entry.ExpiresAt <= now.UtcTicks))
        {
            return false;
        }

        _leases.Restore(entry.Sequence, handed.ConsumerId, handed.Token, expiresAt);
        if (_consumers.TryGet(handed.ConsumerId, out var consumer))
        {
            consumer.InFlight++;
        }

        // In flight, it holds its group's turn: the key's later messages wait for its ack.
        _ready.HoldTurn(entry);
        return true;
    }

    /// <summary>
    /// A consumer that held handed-off leases and has not registered with this activation within its registration's lifetime is
    /// gone: its leases end now, as they would have had it been dropped here, instead of at their own (possibly long) expiry.
    /// </summary>
    private void EndOrphanedLeases(DateTimeOffset now)
    {
        if (_orphansEndAt is not { } at || now < at)
        {
            return;
        }

        _orphansEndAt = null;
        foreach (var (sequence, lease) in _leases.HeldBy(id => !_consumers.Contains(id)))
        {
            if (TryEndLease(sequence, lease.Token, out var entry))
            {
                LogOrphanedLeaseEnded(_name, sequence, lease.ConsumerId, entry.Attempts);
                ReturnToReady(entry, recovered: false);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: consumer {Consumer} did not register again after the hand-off; message {Sequence} (attempt {Attempts}) is no longer leased to it")]
    private partial void LogOrphanedLeaseEnded(string queue, long sequence, string consumer, int attempts);

    /// <summary>How long a graceful deactivation waits for deliveries already on their way to consumers to be confirmed.</summary>
    private static readonly TimeSpan HandOffSendWait = TimeSpan.FromSeconds(1);

    /// <summary>
    /// On a graceful deactivation: the leases the consumers are known to hold go into the final commit, and the consumers are told
    /// to register again at once. A delivery not confirmed received (still queued, or its call did not return within
    /// <see cref="HandOffSendWait"/>) is not handed off: the next activation delivers it again.
    /// </summary>
    private async Task HandOffLeasesAsync()
    {
        var sends = _consumers.All.Select(c => c.Send).Where(t => !t.IsCompleted).ToList();
        if (sends.Count > 0)
        {
            await Task.WhenAny(Task.WhenAll(sends), Task.Delay(HandOffSendWait));
        }

        if (!_log.Meta.Created || _leases.Count == 0 && _consumers.Count == 0)
        {
            return;
        }

        var leases = _leases.All.Where(l => l.Value.Received)
            .Select(l => new HandedOffLease(l.Key, l.Value.ConsumerId, l.Value.Token, l.Value.ExpiresAt.UtcTicks)).ToList();
        _log.UpdateMeta(meta => meta.Leases = leases);
        foreach (var consumer in _consumers.All)
        {
            _ = consumer.Observer.Moving();
        }

        LogLeasesHandedOff(_name, leases.Count, _consumers.Count);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: deactivating with {Leases} deliveries out; they stay leased to their consumers in the next activation ({Consumers} consumers told to register again)")]
    private partial void LogLeasesHandedOff(string queue, int leases, int consumers);

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: took over {Leases} leases from the previous activation")]
    private partial void LogLeasesTaken(string queue, int leases);
}
