using System.Globalization;
using OrleansBroker.Queues;
using OrleansBroker.Server.Log;

namespace OrleansBroker.Server.Queues;

/// <summary>Time to live and length limits: messages that leave a queue without being delivered.</summary>
internal sealed partial class QueueGrain
{
    /// <summary>Messages with a time to live, by expiry (UTC ticks); stale items are skipped when due.</summary>
    private readonly PriorityQueue<long, long> _expiring = new();

    private void WatchExpiry(LogEntry entry)
    {
        if (entry.ExpiresAt != 0)
        {
            _expiring.Enqueue(entry.Sequence, entry.ExpiresAt);
        }
    }

    /// <summary>
    /// Removes the messages whose time to live is over, whether or not a consumer is attached. One in flight
    /// is left to its consumer; if it comes back (nack, lease expiry) it expires then.
    /// </summary>
    private void ExpireDue(DateTimeOffset now)
    {
        var ticks = now.UtcTicks;
        while (_expiring.TryPeek(out var sequence, out var at) && at <= ticks)
        {
            _expiring.Dequeue();
            if (_log.TryGetEntry(sequence, out var entry) && !_leases.IsLeased(sequence) && !_leaving.Contains(sequence))
            {
                Expire(entry);
            }
        }
    }

    /// <summary>Expires <paramref name="entry"/> if its time to live is over; true if it did.</summary>
    private bool ExpireIfDue(LogEntry entry)
    {
        if (entry.ExpiresAt == 0 || entry.ExpiresAt > _time.GetUtcNow().UtcTicks)
        {
            return false;
        }

        Expire(entry);
        return true;
    }

    /// <summary>Drops the message, or dead-letters it when the queue says so (<see cref="QueueOptions.DeadLetterExpired"/>).</summary>
    private void Expire(LogEntry entry)
    {
        StopWaiting(entry);
        Count(c => c with { Expired = c.Expired + 1 });
        if (Options.DeadLetterExpired)
        {
            var at = new DateTimeOffset(entry.ExpiresAt, TimeSpan.Zero);
            DeadLetter(entry, $"expired: time to live ended at {at.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)}");
        }
        else
        {
            _log.Settle(entry);
            _ready.Finish(entry);
        }
    }

    /// <summary>A delayed message leaving early: no longer waiting for its time.</summary>
    private void StopWaiting(LogEntry entry)
    {
        if (_delayed.Remove(entry.Sequence))
        {
            entry.NotBefore = 0;
        }
    }

    /// <summary>
    /// With <see cref="OverflowPolicy.DropOldest"/> or <see cref="OverflowPolicy.DeadLetterOldest"/>: removes the oldest
    /// messages not out for delivery until the queue is within <see cref="QueueOptions.MaxLength"/> and
    /// <see cref="QueueOptions.MaxBytes"/>. Messages in flight are never removed, so a queue may exceed its limit by those.
    /// </summary>
    private void EnforceLengthLimit()
    {
        var options = Options;
        if (!options.HasLengthLimit || options.Overflow == OverflowPolicy.RejectPublish)
        {
            return;
        }

        long count = _log.LiveCount, bytes = _log.LiveBytes;
        foreach (var sequence in _leaving)
        {
            // Already on their way to the dead-letter queue.
            if (_log.TryGetEntry(sequence, out var going))
            {
                count--;
                bytes -= going.BodyBytes;
            }
        }

        var overCount = options.MaxLength is { } maxLength ? count - maxLength : 0;
        var overBytes = options.MaxBytes is { } maxBytes ? bytes - maxBytes : 0;
        if (overCount <= 0 && overBytes <= 0)
        {
            return;
        }

        var oldest = new List<LogEntry>();
        foreach (var entry in _log.TrackedEntries())
        {
            if (overCount <= 0 && overBytes <= 0)
            {
                break;
            }

            if (!_leases.IsLeased(entry.Sequence) && !_leaving.Contains(entry.Sequence))
            {
                oldest.Add(entry);
                overCount--;
                overBytes -= entry.BodyBytes;
            }
        }

        foreach (var entry in oldest)
        {
            StopWaiting(entry);
            if (options.Overflow == OverflowPolicy.DeadLetterOldest)
            {
                DeadLetter(entry, $"queue full: over MaxLength {options.MaxLength?.ToString(CultureInfo.InvariantCulture) ?? "-"} / MaxBytes {options.MaxBytes?.ToString(CultureInfo.InvariantCulture) ?? "-"}");
            }
            else
            {
                _log.Settle(entry);
                _ready.Finish(entry);
            }
        }

        Count(c => c with { Dropped = c.Dropped + oldest.Count });
        _log.FlushInBackground();
    }
}
