using OrleansBroker.Server.Log;
using Xunit;

namespace OrleansBroker.Tests.Storage;

/// <summary>
/// A segment finds its messages by sequence whether they are consecutive (one array fewer) or not, and keeps their
/// delivery state itself, so any view of a message sees the same: logic only.
/// </summary>
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
        Assert.Equal(sequences[0], segment.FirstSequence);
        Assert.Equal(sequences, Enumerable.Range(0, sequences.Length).Select(segment.SequenceAt));
        Assert.All(sequences, s => Assert.Equal(s, segment.Find(s)!.Sequence));
        Assert.All(new long[] { 9, 14, 19, 21, long.MaxValue }.Except(sequences), s => Assert.Null(segment.Find(s)));
    }

    [Fact]
    public void Every_view_of_a_message_sees_its_attempts_and_retry_time_and_a_settled_message_is_found_no_more()
    {
        var segment = Make(10, 11, 12);
        var first = segment.Find(11)!;
        first.Attempts = 2;
        first.NotBefore = 1234;

        var again = segment.Find(11)!;
        Assert.Equal(first, again);
        Assert.Equal((2, 1234L), (again.Attempts, again.NotBefore));
        Assert.Equal((0, 0L), (segment.Find(10)!.Attempts, segment.Find(12)!.NotBefore));

        again.Attempts++;
        Assert.Equal(3, first.Attempts);

        Assert.True(segment.MarkSettled(first));
        Assert.False(segment.MarkSettled(again));
        Assert.Null(segment.Find(11));
        Assert.Null(segment.EntryAt(1));
        Assert.Equal(2, segment.LiveCount);
        // A view held past the settle (a dead letter on its way out) still reports the attempts.
        Assert.Equal(3, again.Attempts);
    }
}
