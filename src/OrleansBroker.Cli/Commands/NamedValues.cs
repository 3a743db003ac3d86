using System.CommandLine;
using System.Text;

namespace OrleansBroker.Cli.Commands;

/// <summary>
/// An option whose values are an enum's members as users type them: kebab-case (<c>reject-publish</c>), the member name in
/// any case (<c>RejectPublish</c>), or a name from another broker (RabbitMQ's <c>drop-head</c>). A wrong value is refused
/// with the names to choose from, never a .NET type name.
/// </summary>
internal static class NamedValues
{
    public static Option<T> Option<T>(string name, string description, T defaultValue, IReadOnlyDictionary<string, T>? aliases = null)
        where T : struct, Enum
    {
        var option = new Option<T>(name) { Description = description, DefaultValueFactory = _ => defaultValue };
        option.CustomParser = result =>
        {
            var text = result.Tokens.Count > 0 ? result.Tokens[0].Value : "";
            if (TryParse(text, aliases, out T value))
            {
                return value;
            }

            result.AddError($"{name} '{text}' is not one of {string.Join(", ", Enum.GetValues<T>().Select(Kebab))}" +
                (aliases is { Count: > 0 } ? $" (or {string.Join(", ", aliases.Keys)})" : ""));
            return defaultValue;
        };
        return option;
    }

    /// <summary><c>RejectPublish</c> → <c>reject-publish</c>.</summary>
    public static string Kebab<T>(T value)
        where T : struct, Enum
    {
        var name = value.ToString();
        var kebab = new StringBuilder(name.Length + 4);
        for (var i = 0; i < name.Length; i++)
        {
            if (char.IsUpper(name[i]) && i > 0)
            {
                kebab.Append('-');
            }

            kebab.Append(char.ToLowerInvariant(name[i]));
        }

        return kebab.ToString();
    }

    private static bool TryParse<T>(string text, IReadOnlyDictionary<string, T>? aliases, out T value)
        where T : struct, Enum
    {
        foreach (var candidate in Enum.GetValues<T>())
        {
            if (string.Equals(text, Kebab(candidate), StringComparison.OrdinalIgnoreCase) || string.Equals(text, candidate.ToString(), StringComparison.OrdinalIgnoreCase))
            {
                value = candidate;
                return true;
            }
        }

        if (aliases is not null && aliases.TryGetValue(text.ToLowerInvariant(), out value))
        {
            return true;
        }

        value = default;
        return false;
    }
}
