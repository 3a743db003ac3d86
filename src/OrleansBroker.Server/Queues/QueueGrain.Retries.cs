using OrleansBroker.Server.Log;
using OrleansBroker.Server.Queues.Scheduling;

namespace OrleansBroker.Server.Queues;

/// <summary>Retries and scheduled delivery: back to ready now or after a wait, out of attempts, the wake-up timer.</summary>
internal sealed partial class QueueGrain
{
    /// <summary>Messages waiting for a time: a scheduled delivery or a retry's backoff.</summary>
    private readonly DelaySchedule _delayed = new();
    private IGrainTimer? _wakeTimer;
    private long _wakeAt = long.MaxValue;

    /// <summary>
    /// A message whose delivery failed (nack with requeue, lease expired): dead-lettered once out of attempts,
    /// otherwise ready again after <paramref name="wait"/>, or the queue's retry backoff when null.
    /// </summary>
    private void Retry(LogEntry entry, TimeSpan? wait)
    {
        if (ExpireIfDue(entry) || OutOfAttempts(entry))
        {
            return;
        }

        var delay = wait ?? Options.Retry.DelayAfter(entry.Attempts, Random.Shared.NextDouble());
        if (delay > TimeSpan.Zero)
        {
            Delay(entry, _time.GetUtcNow() + delay);
        }
        else
        {
            _log.SetNotBefore(entry, 0);
            _ready.MakeReady(entry);
        }
    }

    /// <summary>
    /// A message back without a failure of its own (recovered after a restart, its consumer left): expired or
    /// dead-lettered if its time is up, otherwise ready now, or at the retry or scheduled time it already had.
    /// </summary>
    private void ReturnToReady(LogEntry entry, bool recovered)
    {
        if (ExpireIfDue(entry) || OutOfAttempts(entry))
        {
            return;
        }

        if (entry.NotBefore > _time.GetUtcNow().UtcTicks)
        {
            Delay(entry, new DateTimeOffset(entry.NotBefore, TimeSpan.Zero));
            if (recovered && entry.Attempts > 0)
            {
                // A retry waiting for its time keeps its group's turn: the group's later messages wait for it.
                _ready.HoldTurn(entry);
            }
        }
        else
        {
            entry.NotBefore = 0;
            _ready.MakeReady(entry);
        }
    }

    private bool OutOfAttempts(LogEntry entry)
    {
        var max = Options.MaxDeliveryAttempts;
        if (max > 0 && entry.Attempts >= max)
        {
            DeadLetter(entry, $"delivery attempts exhausted ({entry.Attempts} of {max})");
            return true;
        }

        return false;
    }

    /// <summary>Holds a message back until <paramref name="at"/>: stored with its segment (durable with the next commit) and woken by a timer.</summary>
    private void Delay(LogEntry entry, DateTimeOffset at)
    {
        if (entry.NotBefore != at.UtcTicks)
        {
            // Not when recovery brings back a time already stored: that would rewrite its segment's record for nothing.
            _log.SetNotBefore(entry, at.UtcTicks);
        }

        _delayed.Add(entry.Sequence, at.UtcTicks);
        if (at.UtcTicks < _wakeAt)
        {
            WakeAt(at.UtcTicks, _time.GetUtcNow().UtcTicks);
        }
    }

    /// <summary>Sets the one-shot wake timer to <paramref name="ticks"/> (UTC), or off with <see cref="long.MaxValue"/>.</summary>
    private void WakeAt(long ticks, long nowTicks)
    {
        _wakeAt = ticks;
        if (ticks != long.MaxValue)
        {
            _wakeTimer?.Change(TimeSpan.FromTicks(Math.Max(0, ticks - nowTicks)), Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Moves every delayed message whose time has come to ready, and sets the timer for the next one.</summary>
    private void PromoteDue(DateTimeOffset now)
    {
        var ticks = now.UtcTicks;
        foreach (var sequence in _delayed.TakeDue(ticks))
        {
            if (_log.TryGetEntry(sequence, out var entry) && !_leases.IsLeased(sequence) && !_leaving.Contains(sequence))
            {
                // In memory only: the stored time is past now, so a reload makes it ready at once too.
                entry.NotBefore = 0;
                _ready.MakeReady(entry);
            }
        }

        WakeAt(_delayed.NextDue, ticks);
    }

    private Task OnWakeAsync(CancellationToken cancellationToken)
    {
        PromoteDue(_time.GetUtcNow());
        Dispatch();
        return Task.CompletedTask;
    }
}
