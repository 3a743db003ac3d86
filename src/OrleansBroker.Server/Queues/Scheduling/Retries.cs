using OrleansBroker.Queues;
using OrleansBroker.Server.Log;
using OrleansBroker.Server.Queues.DeadLetters;
using OrleansBroker.Server.Queues.Limits;
using OrleansBroker.Server.Telemetry;

namespace OrleansBroker.Server.Queues.Scheduling;

/// <summary>
/// Where a message goes when it comes back (abandoned, its lease ended, recovered after a restart, its consumer left) or
/// when it waits for a time (scheduled delivery, retry backoff): expired if its time to live is over, dead-lettered if out of
/// attempts, otherwise ready now or at its time. Keeps the queue's one wake-up timer at the earliest waiting message.
/// </summary>
/// <remarks>
/// <c>wakeIn</c>: Sets the grain's one-shot wake timer to fire after the given time.<br/>
/// <c>jitter</c>: A number in [0, 1) that spreads retry backoff (<see cref="RetryPolicy.DelayAfter"/>).
/// </remarks>
internal sealed class Retries(QueueState queue, TimeToLive timeToLive, DeadLetterOutbox deadLetters, Action<TimeSpan> wakeIn, Func<double>? jitter = null)
{
    private readonly Func<double> _jitter = jitter ?? Random.Shared.NextDouble;

    /// <summary>When the wake timer is set to fire (UTC ticks), or <see cref="long.MaxValue"/> when it is off.</summary>
    public long WakeAt { get; private set; } = long.MaxValue;

    /// <summary>
    /// A message whose delivery failed: dead-lettered once out of attempts, otherwise ready again after
    /// <paramref name="wait"/>, or the queue's retry backoff when null.
    /// </summary>
    public void Retry(LogEntry entry, TimeSpan? wait)
    {
        if (timeToLive.ExpireIfDue(entry) || OutOfAttempts(entry))
        {
            return;
        }

        var delay = wait ?? queue.Options.Retry.DelayAfter(entry.Attempts, _jitter());
        if (delay > TimeSpan.Zero)
        {
            Delay(entry, queue.Time.GetUtcNow() + delay);
        }
        else
        {
            queue.Log.SetNotBefore(entry, 0);
            queue.Ready.MakeReady(entry);
        }
    }

    /// <summary>
    /// A message back without a failure of its own (recovered after a restart, its consumer left): expired or
    /// dead-lettered if its time is up, otherwise ready now, or at the retry or scheduled time it already had.
    /// </summary>
    public void ReturnToReady(LogEntry entry, bool recovered)
    {
        if (timeToLive.ExpireIfDue(entry) || OutOfAttempts(entry))
        {
            return;
        }

        Admit(entry, queue.Time.GetUtcNow().UtcTicks);
        if (recovered && entry.Attempts > 0 && entry.NotBefore != 0)
        {
            // A retry waiting for its time keeps its group's turn: the group's later messages wait for it.
            queue.Ready.HoldTurn(entry);
        }
    }

    /// <summary>A message with no failure to count (new, or back): ready now, or held until the time it has.</summary>
    public void Admit(LogEntry entry, long nowTicks)
    {
        if (entry.NotBefore > nowTicks)
        {
            Delay(entry, new DateTimeOffset(entry.NotBefore, TimeSpan.Zero));
        }
        else
        {
            entry.NotBefore = 0;
            queue.Ready.MakeReady(entry);
        }
    }

    /// <summary>Holds a message back until <paramref name="at"/>: stored with its segment (durable with the next commit) and woken by the timer.</summary>
    public void Delay(LogEntry entry, DateTimeOffset at)
    {
        if (entry.NotBefore != at.UtcTicks)
        {
            // Not when recovery brings back a time already stored: that would rewrite its segment's record for nothing.
            queue.Log.SetNotBefore(entry, at.UtcTicks);
        }

        queue.Delayed.Add(entry.Sequence, at.UtcTicks);
        if (at.UtcTicks < WakeAt)
        {
            SetWake(at.UtcTicks, queue.Time.GetUtcNow().UtcTicks);
        }
    }

    /// <summary>Moves every delayed message whose time has come to ready, and sets the timer for the next one.</summary>
    public void PromoteDue(DateTimeOffset now)
    {
        var ticks = now.UtcTicks;
        foreach (var sequence in queue.Delayed.TakeDue(ticks))
        {
            if (queue.Idle(sequence) is { } entry)
            {
                // In memory only: the stored time is past now, so a reload makes it ready at once too.
                entry.NotBefore = 0;
                queue.Ready.MakeReady(entry);
            }
        }

        SetWake(queue.Delayed.NextDue, ticks);
    }

    private bool OutOfAttempts(LogEntry entry)
    {
        var max = queue.Options.MaxDeliveryAttempts;
        if (max > 0 && entry.Attempts >= max)
        {
            deadLetters.Add(entry, $"delivery attempts exhausted ({entry.Attempts} of {max})", DeadLetterCause.MaxAttempts);
            return true;
        }

        return false;
    }

    /// <summary>Sets the wake timer to <paramref name="ticks"/> (UTC), or off with <see cref="long.MaxValue"/>.</summary>
    private void SetWake(long ticks, long nowTicks)
    {
        WakeAt = ticks;
        if (ticks != long.MaxValue)
        {
            wakeIn(TimeSpan.FromTicks(Math.Max(0, ticks - nowTicks)));
        }
    }
}
