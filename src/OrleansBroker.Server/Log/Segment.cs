using System.Collections;

namespace OrleansBroker.Server.Log;

/// <summary>A live segment of a log: its immutable record, its settle record, and which messages are settled.</summary>
internal sealed class Segment
{
    private readonly BitArray _settled;

    public Segment(long id, StoredRecord<SegmentRecord> record, StoredRecord<SegmentStateRecord> state)
    {
        Id = id;
        Record = record;
        State = state;
        _settled = new BitArray(Messages.Count);
        LiveCount = Messages.Count;
    }

    public long Id { get; }

    public StoredRecord<SegmentRecord> Record { get; }

    public StoredRecord<SegmentStateRecord> State { get; }

    public List<StoredMessage> Messages => Record.State.Messages;

    public int LiveCount { get; private set; }

    public bool IsSettled(int index) => _settled[index];

    public void MarkSettled(long sequence)
    {
        var index = IndexOf(sequence);
        if (!_settled[index])
        {
            _settled[index] = true;
            LiveCount--;
            State.State.Attempts.Remove(sequence);
        }
    }

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

    private int IndexOf(long sequence)
    {
        int low = 0, high = Messages.Count - 1;
        while (low <= high)
        {
            var mid = (low + high) >>> 1;
            var found = Messages[mid].Sequence;
            if (found == sequence)
            {
                return mid;
            }

            if (found < sequence)
            {
                low = mid + 1;
            }
            else
            {
                high = mid - 1;
            }
        }

        throw new InvalidOperationException($"Sequence {sequence} is not in segment {Id}.");
    }
}
