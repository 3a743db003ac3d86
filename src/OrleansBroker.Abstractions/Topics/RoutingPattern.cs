namespace OrleansBroker.Topics;

/// <summary>
/// An AMQP topic-exchange routing-key pattern, compiled once: words separated by '.', where <c>*</c>
/// matches exactly one word and <c>#</c> zero or more. Matching allocates nothing but the split of the key.
/// </summary>
public sealed class RoutingPattern
{
    private readonly string[] _words;
    private readonly bool _exact;

    private RoutingPattern(string pattern)
    {
        Pattern = pattern;
        _words = pattern.Split('.');
        _exact = !_words.Any(w => w is "*" or "#");
    }

    /// <summary>The pattern text.</summary>
    public string Pattern { get; }

    /// <summary>Compiles <paramref name="pattern"/>; throws <see cref="ArgumentException"/> if it is malformed (see <see cref="Explain"/>).</summary>
    public static RoutingPattern Compile(string pattern) =>
        Explain(pattern) is { } problem ? throw new ArgumentException(problem, nameof(pattern)) : new RoutingPattern(pattern);

    /// <summary>Why <paramref name="pattern"/> is not a valid pattern, or null: 1 to 256 characters, no empty words, <c>*</c> and <c>#</c> only as whole words.</summary>
    public static string? Explain(string? pattern)
    {
        if (string.IsNullOrEmpty(pattern) || pattern.Length > BrokerLimits.MaxRoutingKeyLength)
        {
            return $"a routing-key pattern must be 1 to {BrokerLimits.MaxRoutingKeyLength} characters";
        }

        foreach (var word in pattern.Split('.'))
        {
            if (word.Length == 0)
            {
                return $"routing-key pattern '{pattern}' has an empty word (two dots, or a dot at an end)";
            }

            if (word.Length > 1 && (word.Contains('*', StringComparison.Ordinal) || word.Contains('#', StringComparison.Ordinal)))
            {
                return $"routing-key pattern '{pattern}': '*' and '#' must be whole words, as in 'orders.*.created' or 'orders.#'";
            }
        }

        return null;
    }

    /// <summary>Whether <paramref name="routingKey"/> matches; a null key matches only <c>#</c>.</summary>
    public bool Matches(string? routingKey)
    {
        if (routingKey is null)
        {
            return _words is ["#"];
        }

        if (_exact)
        {
            return string.Equals(Pattern, routingKey, StringComparison.Ordinal);
        }

        var key = routingKey.Split('.');
        return Match(key);
    }

    /// <summary>Dynamic programming over (pattern word, key word), O(pattern × key): no backtracking blow-up with many '#'.</summary>
    private bool Match(string[] key)
    {
        // next[j]: the pattern from word i+1 on matches the key from word j on; cur[j] the same from word i.
        Span<bool> next = stackalloc bool[key.Length + 1];
        Span<bool> cur = stackalloc bool[key.Length + 1];
        next[key.Length] = true;
        for (var i = _words.Length - 1; i >= 0; i--)
        {
            var word = _words[i];
            for (var j = key.Length; j >= 0; j--)
            {
                cur[j] = word == "#"
                    ? next[j] || (j < key.Length && cur[j + 1])
                    : j < key.Length && (word == "*" || string.Equals(word, key[j], StringComparison.Ordinal)) && next[j + 1];
            }

            var swap = next;
            next = cur;
            cur = swap;
        }

        return next[0];
    }
}
