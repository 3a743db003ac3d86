using System.Collections;

namespace OrleansBroker.Server.Log;

/// <summary>
/// A live segment of a log: its immutable record, its settle record, and which messages are settled.
/// The bodies (<see cref="Messages"/>) are resident in memory or paged out to storage; everything
/// else (count, size, settles, attempts) stays in memory for as long as the segment is live, in arrays indexed by
/// position: a message nobody has delivered yet costs its body size and a settle bit, the arrays of attempts and
/// retry times appear only once a message of the segment has one.
/// </summary>
internal sealed class Segment
{
    private readonly BitArray _settled;
    /// <summary>Every sequence, only when they are not consecutive; one commit's messages are, so this is null in practice.</summary>
    private readonly long[]? _sequences;
    private readonly long _firstSequence;
    private readonly int[] _bodyBytes;

    // Delivery state of the live messages (see LogEntry); null while every message of the segment has none. The time a
    // message waits for starts as the one it was scheduled for; a retry's backoff replaces it.
    private int[]? _attempts;
    private long[]? _notBefore;

    // Per-message traits the queue needs while the bodies are paged out; null when no message of the segment has one.
    private readonly byte[]? _priorities;
    private readonly long[]? _expiresAt;
    private readonly string?[]? _orderingKeys;

    public Segment(long id, StoredRecord<SegmentRecord> record, StoredRecord<SegmentStateRecord> state)
    {
        Id = id;
        Record = record;
        State = state;
        Count = record.State.Messages.Count;
        _settled = new BitArray(Count);
        var messages = record.State.Messages;
        _firstSequence = Count > 0 ? messages[0].Sequence : 0;
        for (var i = 1; i < Count && _sequences is null; i++)
        {
            if (messages[i].Sequence != _firstSequence + i)
            {
                _sequences = [.. messages.Select(m => m.Sequence)];
            }
        }

        _bodyBytes = new int[Count];
        LiveCount = Count;
        for (var i = 0; i < Count; i++)
        {
            var message = record.State.Messages[i];
            _bodyBytes[i] = message.Body.Length;
            Bytes += message.ApproximateSize;
            if (message.Priority != 0)
            {
                (_priorities ??= new byte[Count])[i] = message.Priority;
                TopPriority = Math.Max(TopPriority, message.Priority);
            }

            SetNotBefore(i, message.NotBefore);

            if (message.ExpiresAt != 0)
            {
                (_expiresAt ??= new long[Count])[i] = message.ExpiresAt;
            }

            if (message.OrderingKey is not null)
            {
                (_orderingKeys ??= new string?[Count])[i] = message.OrderingKey;
            }
        }
    }

    /// <summary>Body bytes of the message at <paramref name="index"/>.</summary>
    public int BodyBytesAt(int index) => _bodyBytes[index];

    public byte PriorityAt(int index) => _priorities?[index] ?? 0;

    /// <summary>The highest priority of a message it was written with (settled ones included): how soon delivery reaches it.</summary>
    public byte TopPriority { get; }

    /// <summary>UTC ticks the message at <paramref name="index"/> expires at, or 0 for never.</summary>
    public long ExpiresAt(int index) => _expiresAt?[index] ?? 0;

    public string? OrderingKeyAt(int index) => _orderingKeys?[index];

    /// <summary>Sequence of its first message: a segment's sequences are ascending and above those of every older segment.</summary>
    public long FirstSequence => _firstSequence;

    public long Id { get; }

    /// <summary>The segment record: its ETag always, its messages only while <see cref="IsResident"/>.</summary>
    public StoredRecord<SegmentRecord> Record { get; }

    public StoredRecord<SegmentStateRecord> State { get; }

    /// <summary>Messages the segment was written with, settled ones included.</summary>
    public int Count { get; }

    /// <summary>Approximate bytes of its messages when resident (<see cref="StoredMessage.ApproximateSize"/>).</summary>
    public long Bytes { get; }

    public int LiveCount { get; private set; }

    public bool IsResident { get; private set; } = true;

    /// <summary>The read that brings the bodies back, while one runs.</summary>
    public TaskCompletionSource<IReadOnlyList<StoredMessage>>? PageIn { get; set; }

    /// <summary>The bodies, in sequence order, or null while paged out.</summary>
    public IReadOnlyList<StoredMessage>? Messages => IsResident ? Record.State.Messages : null;

    public bool IsSettled(int index) => _settled[index];

    /// <summary>Sequence of the message at <paramref name="index"/>, settled or not.</summary>
    public long SequenceAt(int index) => _sequences?[index] ?? _firstSequence + index;

    /// <summary>The live entry of <paramref name="sequence"/> in this segment, or null if it is settled or not here.</summary>
    public LogEntry? Find(long sequence)
    {
        var index = _sequences is null
            ? (sequence >= _firstSequence && sequence - _firstSequence < Count ? (int)(sequence - _firstSequence) : -1)
            : Array.BinarySearch(_sequences, sequence);
        return index >= 0 ? EntryAt(index) : null;
    }

    /// <summary>The live entry at <paramref name="index"/>, or null once it is settled.</summary>
    public LogEntry? EntryAt(int index) => _settled[index] ? null : new LogEntry(this, index);

    public int AttemptsAt(int index) => _attempts?[index] ?? 0;

    /// <summary>Counts the first attempt of the first <paramref name="count"/> messages of a segment not written yet, in its settle state.</summary>
    public void CountFirstAttempts(int count)
    {
        for (var i = 0; i < count; i++)
        {
            SetAttempts(i, 1);
            State.State.Attempts[SequenceAt(i)] = 1;
        }
    }

    public void SetAttempts(int index, int attempts)
    {
        if (_attempts is not null || attempts != 0)
        {
            (_attempts ??= new int[Count])[index] = attempts;
        }
    }

    /// <summary>UTC ticks before which the message at <paramref name="index"/> is not delivered, or 0.</summary>
    public long NotBeforeAt(int index) => _notBefore?[index] ?? 0;

    public void SetNotBefore(int index, long utcTicks)
    {
        if (_notBefore is not null || utcTicks != 0)
        {
            (_notBefore ??= new long[Count])[index] = utcTicks;
        }
    }

    /// <summary>
    /// Marks the entry settled; false if it was already. Its attempts and retry time stay readable through views still
    /// held (a dead letter on its way out reports the attempts).
    /// </summary>
    public bool MarkSettled(LogEntry entry)
    {
        if (_settled[entry.Index])
        {
            return false;
        }

        _settled[entry.Index] = true;
        LiveCount--;
        State.State.Attempts.Remove(entry.Sequence);
        State.State.NotBefore.Remove(entry.Sequence);
        return true;
    }

    /// <summary>Drops the bodies from memory; the record's ETag stays for the delete.</summary>
    public void PageOut()
    {
        Record.State = new SegmentRecord();
        IsResident = false;
    }

    /// <summary>Takes back the bodies read from storage (the record is immutable: they are the ones written).</summary>
    public void Restore(SegmentRecord stored)
    {
        if (stored.Messages.Count != Count)
        {
            throw new InvalidOperationException($"Segment {Id} holds {stored.Messages.Count} messages in storage, {Count} were written.");
        }

        Record.State = stored;
        IsResident = true;
    }

    /// <summary>A copy of its settle record as it is now: settled messages, attempts, retry times.</summary>
    public SegmentStateRecord SnapshotSettles() => State.State.Copy(SettledBitmap());

    public byte[] SettledBitmap()
    {
        var bytes = new byte[(_settled.Length + 7) / 8];
        _settled.CopyTo(bytes, 0);
        return bytes;
    }

    public void LoadSettled(byte[] bitmap)
    {
        var stored = new BitArray(bitmap);
        for (var i = 0; i < _settled.Length && i < stored.Length; i++)
        {
            if (stored[i])
            {
                _settled[i] = true;
                LiveCount--;
            }
        }
    }
}
