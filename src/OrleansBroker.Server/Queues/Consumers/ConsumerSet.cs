using System.Diagnostics.CodeAnalysis;

namespace OrleansBroker.Server.Queues.Consumers;

/// <summary>
/// A queue's registered consumers and whose turn it is: dispatch goes round robin over those with credit, starting after
/// the last one served, so consumers with room share the messages evenly whatever their prefetch. Plain, single-threaded state.
/// </summary>
internal sealed class ConsumerSet
{
    private readonly Dictionary<string, Consumer> _byId = new(StringComparer.Ordinal);
    private readonly List<Consumer> _rotation = [];

    /// <summary>Where the next search for credit starts in <see cref="_rotation"/>.</summary>
    private int _next;

    public int Count => _rotation.Count;

    /// <summary>In registration order.</summary>
    public IReadOnlyList<Consumer> All => _rotation;

    public bool TryGet(string id, [NotNullWhen(true)] out Consumer? consumer) => _byId.TryGetValue(id, out consumer);

    public bool Contains(string id) => _byId.ContainsKey(id);

    /// <summary>Whether <paramref name="consumer"/> is still the one registered under its id (not removed, not replaced).</summary>
    public bool IsCurrent(Consumer consumer) => _byId.GetValueOrDefault(consumer.Id) == consumer;

    public void Add(Consumer consumer)
    {
        _byId.Add(consumer.Id, consumer);
        _rotation.Add(consumer);
    }

    public void Remove(Consumer consumer)
    {
        if (!_byId.Remove(consumer.Id))
        {
            return;
        }

        var index = _rotation.IndexOf(consumer);
        _rotation.RemoveAt(index);
        if (index < _next)
        {
            // The consumer after the last one served keeps the next turn.
            _next--;
        }
    }

    /// <summary>The next consumer with credit in turn, or null when none has room.</summary>
    public Consumer? NextWithCredit()
    {
        for (var i = 0; i < _rotation.Count; i++)
        {
            var index = (_next + i) % _rotation.Count;
            var consumer = _rotation[index];
            if (consumer.HasCredit)
            {
                _next = index + 1;
                return consumer;
            }
        }

        return null;
    }

    /// <summary>The consumers last seen before <paramref name="cutoff"/>, as a copy (safe to remove them while going through).</summary>
    public List<Consumer> NotSeenSince(DateTimeOffset cutoff) => [.. _rotation.Where(c => c.LastSeen < cutoff)];
}
