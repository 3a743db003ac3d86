using OrleansBroker.Topics;

namespace OrleansBroker.Server.Topics.Replay;

/// <summary>
/// A sparse index from time to the retained queue's sequence, so that a replay since a time starts near it instead of
/// paging through everything retained before. The topic adds a mark now and then as it publishes (at most one per
/// <see cref="Spacing"/>, at most <see cref="Max"/> kept: a few kilobytes in its state); a replay starts after the newest
/// mark at least <see cref="Margin"/> before its time, which absorbs clock differences between silos and slow fan-outs.
/// Marks are hints: one whose messages have expired only means the replay starts at the oldest retained.
/// </summary>
internal static class RetainedMarks
{
    public const int Max = 256;

    public static readonly TimeSpan Margin = TimeSpan.FromMinutes(5);

    /// <summary>Time between marks: 1/128 of the retention time, at least a minute.</summary>
    public static TimeSpan Spacing(TopicOptions options) =>
        options.RetentionTime is { } retention && retention / 128 > TimeSpan.FromMinutes(1) ? retention / 128 : TimeSpan.FromMinutes(1);

    /// <summary>Adds a mark for a publish that began at <paramref name="started"/> and stored its first message at <paramref name="firstSequence"/>, if one is due.</summary>
    public static bool Add(List<RetainedMark> marks, DateTimeOffset started, long firstSequence, TimeSpan spacing)
    {
        if (marks.Count > 0 && started.UtcTicks - marks[^1].Ticks < spacing.Ticks)
        {
            return false;
        }

        marks.Add(new RetainedMark(started.UtcTicks, firstSequence - 1));
        if (marks.Count > Max)
        {
            marks.RemoveAt(0);
        }

        return true;
    }

    /// <summary>The retained sequence a replay of what was retained since <paramref name="since"/> can start after.</summary>
    public static long StartAfter(IReadOnlyList<RetainedMark> marks, DateTimeOffset since)
    {
        var limit = since.UtcTicks - Margin.Ticks;
        long after = 0;
        foreach (var mark in marks)
        {
            if (mark.Ticks > limit)
            {
                break;
            }

            after = mark.Sequence;
        }

        return after;
    }
}
