namespace OrleansBroker.Server.Log;

/// <summary>
/// The ids of a log's live segments as ranges, kept in its metadata (<see cref="LogMeta.LiveSegments"/>) so that recovery
/// reads exactly the segments that exist instead of trying every id between the first and the next: a queue that keeps one
/// old message (a schedule a week out, a stuck lease) while millions pass through it has two ranges, not millions of ids to
/// try. A flat list of [start, end) pairs in id order. Past <see cref="MaxRanges"/> (live segments scattered all over) the
/// list is given up and recovery tries every id, as for a log written before the list was kept; the next recovery that
/// has read every segment makes it again.
/// </summary>
internal static class SegmentRanges
{
    /// <summary>Most ranges kept: 16 bytes each, in a record written with every commit.</summary>
    public const int MaxRanges = 1024;

    /// <summary>The ranges of <paramref name="ids"/> (in any order).</summary>
    public static List<long> Of(IEnumerable<long> ids)
    {
        var ranges = new List<long>();
        foreach (var id in ids.Order())
        {
            if (ranges.Count > 0 && ranges[^1] == id)
            {
                ranges[^1] = id + 1;
            }
            else if (ranges.Count == 0 || ranges[^1] < id)
            {
                ranges.Add(id);
                ranges.Add(id + 1);
            }
        }

        return ranges;
    }

    /// <summary>Whether the list is small enough to keep.</summary>
    public static bool Fits(List<long> ranges) => ranges.Count / 2 <= MaxRanges;

    public static void Add(List<long> ranges, long id)
    {
        // k: the first range that starts after id.
        var k = 0;
        while (k < ranges.Count && ranges[k] <= id)
        {
            k += 2;
        }

        var left = k - 2;
        if (left >= 0 && id < ranges[left + 1])
        {
            return;
        }

        var joinsLeft = left >= 0 && ranges[left + 1] == id;
        var joinsRight = k < ranges.Count && ranges[k] == id + 1;
        if (joinsLeft && joinsRight)
        {
            ranges[left + 1] = ranges[k + 1];
            ranges.RemoveRange(k, 2);
        }
        else if (joinsLeft)
        {
            ranges[left + 1] = id + 1;
        }
        else if (joinsRight)
        {
            ranges[k] = id;
        }
        else
        {
            ranges.InsertRange(k, [id, id + 1]);
        }
    }

    public static void Remove(List<long> ranges, long id)
    {
        for (var k = 0; k < ranges.Count; k += 2)
        {
            var (start, end) = (ranges[k], ranges[k + 1]);
            if (id < start)
            {
                return;
            }

            if (id >= end)
            {
                continue;
            }

            if (start == id && end == id + 1)
            {
                ranges.RemoveRange(k, 2);
            }
            else if (start == id)
            {
                ranges[k] = id + 1;
            }
            else if (end == id + 1)
            {
                ranges[k + 1] = id;
            }
            else
            {
                ranges[k + 1] = id;
                ranges.InsertRange(k + 2, [id + 1, end]);
            }

            return;
        }
    }

    /// <summary>The ids in the ranges, within [<paramref name="first"/>, <paramref name="next"/>), in order.</summary>
    public static IEnumerable<long> Ids(List<long> ranges, long first, long next)
    {
        for (var k = 0; k < ranges.Count; k += 2)
        {
            for (var id = Math.Max(ranges[k], first); id < Math.Min(ranges[k + 1], next); id++)
            {
                yield return id;
            }
        }
    }
}
