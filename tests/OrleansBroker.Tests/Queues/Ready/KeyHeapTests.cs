using OrleansBroker.Server.Queues.Ready;
using Xunit;

namespace OrleansBroker.Tests.Queues.Ready;

/// <summary>The ready order's heap against a sorted reference, and its array given back as it drains: logic only.</summary>
public sealed class KeyHeapTests
{
    [Fact]
    public void Takes_keys_out_smallest_first_through_any_mix_of_adds_and_takes()
    {
        var random = new Random(7);
        var heap = new KeyHeap();
        var reference = new List<long>();
        for (var step = 0; step < 20_000; step++)
        {
            if (reference.Count == 0 || random.Next(3) > 0)
            {
                // Duplicates too: a key may come back (a message put back in its place).
                var key = random.Next(5) == 0 && reference.Count > 0 ? reference[random.Next(reference.Count)] : random.NextInt64(0, 1L << 60);
                heap.Enqueue(key);
                reference.Add(key);
            }
            else
            {
                var smallest = reference.Min();
                Assert.True(heap.TryPeek(out var peeked));
                Assert.Equal(smallest, peeked);
                Assert.Equal(smallest, heap.Dequeue());
                reference.Remove(smallest);
            }

            Assert.Equal(reference.Count, heap.Count);
        }

        foreach (var key in reference.Order())
        {
            Assert.Equal(key, heap.Dequeue());
        }

        Assert.False(heap.TryPeek(out _));
        Assert.False(heap.TryDequeue(out _));
        Assert.Throws<InvalidOperationException>(() => heap.Dequeue());
    }

    [Fact]
    public void Gives_its_array_back_as_it_drains()
    {
        var heap = new KeyHeap();
        for (var key = 100_000L; key > 0; key--)
        {
            heap.Enqueue(key);
        }

        Assert.True(heap.Capacity >= 100_000);
        for (var key = 1L; key <= 99_990; key++)
        {
            Assert.Equal(key, heap.Dequeue());
        }

        Assert.InRange(heap.Capacity, 10, 64);
        heap.Clear();
        Assert.Equal((0, 0), (heap.Count, heap.Capacity));
    }
}
