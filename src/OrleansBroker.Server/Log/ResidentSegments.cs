namespace OrleansBroker.Server.Log;

/// <summary>
/// The segments whose bodies are in memory, within a byte budget. Past it, the segment that delivery reaches
/// last is paged out first: the one whose best message has the lowest priority, and among equals the newest
/// (FIFO delivers it last). So a high-priority message in a new segment stays in memory and goes out at once,
/// instead of being paged out on commit and read back for its delivery.
/// </summary>
internal sealed class ResidentSegments(long budgetBytes)
{
    private readonly SortedSet<Segment> _segments = new(DeliveryOrder.Instance);

    public int Count => _segments.Count;

    /// <summary>Approximate bytes of the bodies in memory.</summary>
    public long Bytes { get; private set; }

    public void Add(Segment segment)
    {
        if (_segments.Add(segment))
        {
            Bytes += segment.Bytes;
        }
    }

    public void Remove(Segment segment)
    {
        if (_segments.Remove(segment))
        {
            Bytes -= segment.Bytes;
        }
    }

    public void Clear()
    {
        _segments.Clear();
        Bytes = 0;
    }

    /// <summary>Pages out the segments delivery reaches last until within budget; always keeps one.</summary>
    public void Trim()
    {
        while (Bytes > budgetBytes && _segments.Count > 1)
        {
            var last = _segments.Max!;
            Remove(last);
            last.PageOut();
        }
    }

    /// <summary>Delivered sooner first: higher top priority, then lower id.</summary>
    private sealed class DeliveryOrder : IComparer<Segment>
    {
        public static readonly DeliveryOrder Instance = new();

        public int Compare(Segment? x, Segment? y)
        {
            if (ReferenceEquals(x, y))
            {
                return 0;
            }

            ArgumentNullException.ThrowIfNull(x);
            ArgumentNullException.ThrowIfNull(y);
            var byPriority = y.TopPriority.CompareTo(x.TopPriority);
            return byPriority != 0 ? byPriority : x.Id.CompareTo(y.Id);
        }
    }
}
