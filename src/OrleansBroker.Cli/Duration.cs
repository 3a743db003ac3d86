using System.Globalization;

namespace OrleansBroker.Cli;

/// <summary>Durations on the command line: a number with a unit, <c>500ms</c>, <c>30s</c>, <c>5m</c>, <c>2h</c>, <c>7d</c>; a bare number is seconds.</summary>
internal static class Duration
{
    public static TimeSpan? Parse(string? text, string option)
    {
        if (text is null)
        {
            return null;
        }

        var trimmed = text.Trim();
        var (number, unit) = trimmed.EndsWith("ms", StringComparison.OrdinalIgnoreCase) ? (trimmed[..^2], TimeSpan.FromMilliseconds(1))
            : trimmed.EndsWith('s') ? (trimmed[..^1], TimeSpan.FromSeconds(1))
            : trimmed.EndsWith('m') ? (trimmed[..^1], TimeSpan.FromMinutes(1))
            : trimmed.EndsWith('h') ? (trimmed[..^1], TimeSpan.FromHours(1))
            : trimmed.EndsWith('d') ? (trimmed[..^1], TimeSpan.FromDays(1))
            : (trimmed, TimeSpan.FromSeconds(1));
        if (!double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0 || double.IsInfinity(value))
        {
            throw new CliException(2, $"{option}: '{text}' is not a duration; write for example 500ms, 30s, 5m, 2h or 7d (a bare number is seconds).");
        }

        return TimeSpan.FromTicks((long)(value * unit.Ticks));
    }
}
