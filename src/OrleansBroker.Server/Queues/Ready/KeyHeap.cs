namespace OrleansBroker.Server.Queues.Ready;

/// <summary>
/// A binary min-heap of 64-bit keys: 8 bytes per item where a <see cref="PriorityQueue{TElement, TPriority}"/> of an
/// element and its priority takes 16, which a queue a million deep feels. Its array halves once it is a quarter full,
/// so a deep queue that drains gives its memory back. Plain, single-threaded.
/// </summary>
internal sealed class KeyHeap
{
    private const int MinimumCapacity = 16;
    private long[] _items = [];

    public int Count { get; private set; }

    /// <summary>Room for items the array has now (for tests: the memory it holds).</summary>
    public int Capacity => _items.Length;

    public void Enqueue(long key)
    {
        if (Count == _items.Length)
        {
            Resize(Math.Max(MinimumCapacity, _items.Length * 2));
        }

        // Sift up: move parents larger than the key down until its place is found.
        var index = Count++;
        while (index > 0)
        {
            var parent = (index - 1) >> 1;
            if (_items[parent] <= key)
            {
                break;
            }

            _items[index] = _items[parent];
            index = parent;
        }

        _items[index] = key;
    }

    public bool TryPeek(out long key)
    {
        key = Count > 0 ? _items[0] : 0;
        return Count > 0;
    }

    public long Dequeue() => TryDequeue(out var key) ? key : throw new InvalidOperationException("The heap is empty.");

    public bool TryDequeue(out long key)
    {
        if (Count == 0)
        {
            key = 0;
            return false;
        }

        key = _items[0];
        var last = _items[--Count];
        if (Count > 0)
        {
            // Sift down: the last item goes where the smaller child chain leaves room for it.
            var index = 0;
            while (true)
            {
                var child = (index << 1) + 1;
                if (child >= Count)
                {
                    break;
                }

                if (child + 1 < Count && _items[child + 1] < _items[child])
                {
                    child++;
                }

                if (last <= _items[child])
                {
                    break;
                }

                _items[index] = _items[child];
                index = child;
            }

            _items[index] = last;
        }

        if (_items.Length > MinimumCapacity && Count < _items.Length / 4)
        {
            Resize(Math.Max(MinimumCapacity, _items.Length / 2));
        }

        return true;
    }

    public void Clear()
    {
        _items = [];
        Count = 0;
    }

    private void Resize(int capacity)
    {
        var items = new long[capacity];
        Array.Copy(_items, items, Count);
        _items = items;
    }
}
