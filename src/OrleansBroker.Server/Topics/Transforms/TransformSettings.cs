namespace OrleansBroker.Server.Topics.Transforms;

/// <summary>Settings parsing shared by the built-in transforms: comma lists and <c>a:b</c> pairs.</summary>
internal static class TransformSettings
{
    public static string[] List(IReadOnlyDictionary<string, string> settings, string name) =>
        settings.TryGetValue(name, out var value) ? value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries) : [];

    public static (string From, string To)[] Pairs(IReadOnlyDictionary<string, string> settings, string name) =>
        [.. List(settings, name).Select(item =>
        {
            var colon = item.IndexOf(':', StringComparison.Ordinal);
            return colon < 0 ? (item, item) : (item[..colon], item[(colon + 1)..]);
        })];

    public static void OnlyKnown(IReadOnlyDictionary<string, string> settings, string transform, params string[] known)
    {
        foreach (var key in settings.Keys)
        {
            if (!known.Contains(key, StringComparer.Ordinal))
            {
                throw new ArgumentException($"transform '{transform}' has no setting '{key}'; it takes {string.Join(", ", known)}");
            }
        }
    }
}
