using OrleansBroker.Server.Log;
using Xunit;

namespace OrleansBroker.Tests.Storage;

/// <summary>A segment finds its messages by sequence whether they are consecutive (one array fewer) or not: logic only.</summary>
public sealed class SegmentTests
{
    private static Segment Make(params long[] sequences) => new(1,
        new StoredRecord<SegmentRecord> { State = new SegmentRecord { Messages = [.. sequences.Select(s => new StoredMessage(s, $"m{s}", [1], null, null, null, DateTimeOffset.UnixEpoch))] } },
        new StoredRecord<SegmentStateRecord>());

    [Theory]
    [InlineData(new long[] { 10, 11, 12, 13 })]
    [InlineData(new long[] { 10, 12, 13, 20 })]
    public void Finds_each_message_by_sequence_and_nothing_else(long[] sequences)
    {
        var segment = Make(sequences);
        for (var i = 0; i < sequences.Length; i++)
        {
            segment.Track(new LogEntry(segment, i, sequences[i], 0));
        }

        Assert.Equal(sequences[0], segment.FirstSequence);
        Assert.Equal(sequences, Enumerable.Range(0, sequences.Length).Select(segment.SequenceAt));
        Assert.All(sequences, s => Assert.Equal(s, segment.Find(s)!.Sequence));
        Assert.All(new long[] { 9, 14, 19, 21, long.MaxValue }.Except(sequences), s => Assert.Null(segment.Find(s)));
    }
}
