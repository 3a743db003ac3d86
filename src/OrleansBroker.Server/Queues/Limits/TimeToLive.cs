using System.Globalization;
using OrleansBroker.Queues;
using OrleansBroker.Server.Log;
using OrleansBroker.Server.Queues.DeadLetters;
using OrleansBroker.Server.Telemetry;

namespace OrleansBroker.Server.Queues.Limits;

/// <summary>
/// Time to live: a message whose time is over leaves the queue undelivered, dropped or dead-lettered
/// (<see cref="QueueOptions.DeadLetterExpired"/>), whether or not a consumer is attached. One in flight is left to its
/// consumer; if it comes back (abandoned, lease expired) it expires then.
/// </summary>
internal sealed class TimeToLive(QueueState queue, DeadLetterOutbox deadLetters)
{
    /// <summary>Messages with a time to live, by expiry (UTC ticks); stale items are skipped when due.</summary>
    private readonly PriorityQueue<long, long> _expiring = new();

    public void Watch(LogEntry entry)
    {
        if (entry.ExpiresAt != 0)
        {
            _expiring.Enqueue(entry.Sequence, entry.ExpiresAt);
        }
    }

    /// <summary>Removes every idle message whose time to live is over at <paramref name="now"/>.</summary>
    public void ExpireDue(DateTimeOffset now)
    {
        var ticks = now.UtcTicks;
        while (_expiring.TryPeek(out var sequence, out var at) && at <= ticks)
        {
            _expiring.Dequeue();
            if (queue.Idle(sequence) is { } entry)
            {
                Expire(entry);
            }
        }
    }

    /// <summary>Expires <paramref name="entry"/> if its time to live is over; true if it did.</summary>
    public bool ExpireIfDue(LogEntry entry)
    {
        if (entry.ExpiresAt == 0 || entry.ExpiresAt > queue.Time.GetUtcNow().UtcTicks)
        {
            return false;
        }

        Expire(entry);
        return true;
    }

    /// <summary>Drops the message, or dead-letters it when the queue says so.</summary>
    public void Expire(LogEntry entry)
    {
        queue.StopWaiting(entry);
        queue.Count(c => c with { Expired = c.Expired + 1 });
        if (queue.Options.DeadLetterExpired)
        {
            var at = new DateTimeOffset(entry.ExpiresAt, TimeSpan.Zero);
            deadLetters.Add(entry, $"expired: time to live ended at {at.UtcDateTime.ToString("O", CultureInfo.InvariantCulture)}", DeadLetterCause.Expired);
        }
        else
        {
            queue.Remove(entry);
        }
    }

    public void Clear() => _expiring.Clear();

    /// <summary>Whether any message watched here has a time to live to end.</summary>
    public bool Watching => _expiring.Count > 0;
}
