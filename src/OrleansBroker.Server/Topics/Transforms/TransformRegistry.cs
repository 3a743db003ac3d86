namespace OrleansBroker.Server.Topics.Transforms;

/// <summary>The transforms registered on this silo, by name (built-ins plus <c>AddBrokerTransform&lt;T&gt;()</c>).</summary>
internal sealed class TransformRegistry
{
    private readonly Dictionary<string, IMessageTransform> _byName = new(StringComparer.Ordinal);

    public TransformRegistry(IEnumerable<IMessageTransform> transforms)
    {
        foreach (var transform in transforms)
        {
            if (!_byName.TryAdd(transform.Name, transform) && _byName[transform.Name].GetType() != transform.GetType())
            {
                throw new InvalidOperationException(
                    $"Two message transforms are registered as '{transform.Name}': {_byName[transform.Name].GetType()} and {transform.GetType()}.");
            }
        }
    }

    public IEnumerable<string> Names => _byName.Keys.Order(StringComparer.Ordinal);

    public bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IMessageTransform? transform) => _byName.TryGetValue(name, out transform);
}
