using OrleansBroker.Errors;

namespace OrleansBroker.Identity;

/// <summary>
/// The name patterns of <see cref="TenantPermission"/>: a name matches when it equals the pattern with each <c>*</c> standing
/// for any run of characters (none included); <c>|</c> separates alternatives (<c>orders.*|invoices</c>), as no name holds one.
/// <c>*</c> matches every name, the empty pattern none. Case-sensitive, as names are. No regular expressions: matching costs
/// at most the pattern's length times the name's, whatever the pattern.
/// </summary>
public static class NamePattern
{
    /// <summary>Longest pattern: 256 characters.</summary>
    public const int MaxLength = 256;

    /// <summary>Whether <paramref name="name"/> matches <paramref name="pattern"/> (one of its alternatives).</summary>
    public static bool Matches(string pattern, string name)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        ArgumentNullException.ThrowIfNull(name);
        foreach (var range in pattern.AsSpan().Split('|'))
        {
            if (MatchesOne(pattern[range], name))
            {
                return true;
            }
        }

        return false;
    }

    private static bool MatchesOne(string pattern, string name)
    {
        // Greedy glob with one backtrack point: linear in practice, no worse than O(pattern x name).
        int p = 0, n = 0, star = -1, resume = 0;
        if (pattern.Length == 0)
        {
            return false;
        }

        while (n < name.Length)
        {
            if (p < pattern.Length && pattern[p] == '*')
            {
                star = p++;
                resume = n;
            }
            else if (p < pattern.Length && pattern[p] == name[n])
            {
                p++;
                n++;
            }
            else if (star >= 0)
            {
                p = star + 1;
                n = ++resume;
            }
            else
            {
                return false;
            }
        }

        while (p < pattern.Length && pattern[p] == '*')
        {
            p++;
        }

        return p == pattern.Length;
    }

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) for a pattern that is too long or has control characters.</summary>
    public static void Validate(string? pattern, string what)
    {
        if (pattern is null || pattern.Length > MaxLength || pattern.Any(char.IsControl))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"The {what} pattern must be at most {MaxLength} characters without control characters ('*' for any run of characters, empty for none).");
        }
    }
}
