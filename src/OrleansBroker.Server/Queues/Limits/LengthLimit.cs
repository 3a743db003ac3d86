using System.Globalization;
using OrleansBroker.Errors;
using OrleansBroker.Queues;
using OrleansBroker.Server.Log;
using OrleansBroker.Server.Queues.DeadLetters;
using OrleansBroker.Server.Telemetry;

namespace OrleansBroker.Server.Queues.Limits;

/// <summary>
/// A queue's length and byte limits (<see cref="QueueOptions.MaxLength"/>, <see cref="QueueOptions.MaxBytes"/>): with
/// <see cref="OverflowPolicy.RejectPublish"/> a publish that does not fit is refused whole; with
/// <see cref="OverflowPolicy.DropOldest"/> or <see cref="OverflowPolicy.DeadLetterOldest"/> the oldest messages not out for
/// delivery make room. Messages in flight are never removed, so a queue may exceed its limit by those.
/// </summary>
internal sealed class LengthLimit(QueueState queue, DeadLetterOutbox deadLetters)
{
    /// <summary>Messages being committed, not yet in the log's live count (the limits count them).</summary>
    private long _appendingCount;
    private long _appendingBytes;

    /// <summary>A publish of <paramref name="count"/> messages is being committed (negative: its commit ended).</summary>
    public void Appending(long count, long bytes)
    {
        _appendingCount += count;
        _appendingBytes += bytes;
    }

    /// <summary>With <see cref="OverflowPolicy.RejectPublish"/>: refuses a publish that would take the queue past a limit.</summary>
    public void CheckRoom(int count, long bytes)
    {
        var options = queue.Options;
        if (count == 0 || !options.HasLengthLimit || options.Overflow != OverflowPolicy.RejectPublish)
        {
            return;
        }

        var holding = queue.Log.LiveCount + _appendingCount;
        if (options.MaxLength is { } maxLength && holding + count > maxLength)
        {
            throw new BrokerException(BrokerErrorCode.QueueFull,
                $"Queue '{queue.Name}' holds {holding} of its {maxLength} messages (MaxLength); this publish of {count} was refused, nothing of it stored.");
        }

        var holdingBytes = queue.Log.LiveBytes + _appendingBytes;
        if (options.MaxBytes is { } maxBytes && holdingBytes + bytes > maxBytes)
        {
            throw new BrokerException(BrokerErrorCode.QueueFull,
                $"Queue '{queue.Name}' holds {holdingBytes} of its {maxBytes} body bytes (MaxBytes); this publish of {bytes} bytes was refused, nothing of it stored.");
        }
    }

    /// <summary>With a drop or dead-letter policy: removes the oldest idle messages until the queue is within its limits.</summary>
    public void Enforce()
    {
        var options = queue.Options;
        if (!options.HasLengthLimit || options.Overflow == OverflowPolicy.RejectPublish)
        {
            return;
        }

        var (overCount, overBytes) = Excess(options);
        if (overCount <= 0 && overBytes <= 0)
        {
            return;
        }

        var oldest = new List<LogEntry>();
        foreach (var entry in queue.Log.TrackedEntries())
        {
            if (overCount <= 0 && overBytes <= 0)
            {
                break;
            }

            if (queue.IsIdle(entry.Sequence))
            {
                oldest.Add(entry);
                overCount--;
                overBytes -= entry.BodyBytes;
            }
        }

        foreach (var entry in oldest)
        {
            queue.StopWaiting(entry);
            if (options.Overflow == OverflowPolicy.DeadLetterOldest)
            {
                deadLetters.Add(entry, $"queue full: over MaxLength {options.MaxLength?.ToString(CultureInfo.InvariantCulture) ?? "-"} / MaxBytes {options.MaxBytes?.ToString(CultureInfo.InvariantCulture) ?? "-"}", DeadLetterCause.Overflow);
            }
            else
            {
                queue.Remove(entry);
            }
        }

        queue.Count(c => c with { Dropped = c.Dropped + oldest.Count });
        queue.Log.FlushInBackground();
    }

    /// <summary>How many messages and bytes the queue holds past its limits, not counting those already on their way out.</summary>
    private (long Count, long Bytes) Excess(QueueOptions options)
    {
        long count = queue.Log.LiveCount, bytes = queue.Log.LiveBytes;
        foreach (var sequence in queue.Leaving)
        {
            if (queue.Log.TryGetEntry(sequence, out var going))
            {
                count--;
                bytes -= going.BodyBytes;
            }
        }

        return (options.MaxLength is { } maxLength ? count - maxLength : 0, options.MaxBytes is { } maxBytes ? bytes - maxBytes : 0);
    }
}
