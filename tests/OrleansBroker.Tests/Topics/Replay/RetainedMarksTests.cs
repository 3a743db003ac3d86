using OrleansBroker.Server.Topics.Replay;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Topics;
using Xunit;

namespace OrleansBroker.Tests.Topics.Replay;

/// <summary>The time index into the retained queue: sparse, bounded, and a replay starts early enough.</summary>
public sealed class RetainedMarksTests
{
    private static readonly DateTimeOffset Start = TestClock.Start;

    [Fact]
    public void Marks_are_spaced_bounded_and_a_replay_starts_after_the_newest_one_a_margin_before_its_time()
    {
        Assert.Equal(TimeSpan.FromMinutes(1), RetainedMarks.Spacing(new TopicOptions { RetentionBytes = 1 << 20 }));
        Assert.Equal(TimeSpan.FromHours(1), RetainedMarks.Spacing(new TopicOptions { RetentionTime = TimeSpan.FromHours(128) }));

        var marks = new List<RetainedMark>();
        var spacing = TimeSpan.FromMinutes(1);
        Assert.True(RetainedMarks.Add(marks, Start, firstSequence: 1, spacing));
        Assert.False(RetainedMarks.Add(marks, Start.AddSeconds(30), 50, spacing));
        Assert.True(RetainedMarks.Add(marks, Start.AddMinutes(1), 101, spacing));
        Assert.Equal([0L, 100L], marks.Select(m => m.Sequence));

        // Nothing a margin before: from the start. Otherwise from the newest mark at least the margin before the time.
        Assert.Equal(0, RetainedMarks.StartAfter(marks, Start));
        Assert.Equal(0, RetainedMarks.StartAfter(marks, Start + RetainedMarks.Margin));
        Assert.Equal(100, RetainedMarks.StartAfter(marks, Start.AddMinutes(1) + RetainedMarks.Margin));
        Assert.Equal(100, RetainedMarks.StartAfter(marks, Start.AddDays(1)));

        for (var i = 2; i < RetainedMarks.Max + 10; i++)
        {
            RetainedMarks.Add(marks, Start.AddMinutes(i), (i * 100) + 1, spacing);
        }

        Assert.Equal(RetainedMarks.Max, marks.Count);
        Assert.Equal(10 * 100, marks[0].Sequence);
    }
}
