using System.Globalization;
using OrleansBroker.Errors;

namespace OrleansBroker.Topics;

/// <summary>How a header predicate tests a message header. Values are persisted and never change.</summary>
public enum HeaderMatch
{
    /// <summary>The header equals one of <see cref="HeaderPredicate.Values"/> (one value: equals).</summary>
    OneOf = 0,

    /// <summary>The header starts with one of <see cref="HeaderPredicate.Values"/>.</summary>
    Prefix = 1,

    /// <summary>The header is present, whatever its value.</summary>
    Exists = 2,

    /// <summary>The header is absent.</summary>
    NotExists = 3,

    /// <summary>The header is a number (invariant culture) within [<see cref="HeaderPredicate.Min"/>, <see cref="HeaderPredicate.Max"/>]; either bound may be open.</summary>
    Range = 4,
}

/// <summary>One test on one message header, as SNS filter policies have them.</summary>
/// <param name="Header">Header name (case-sensitive).</param>
/// <param name="Match">What to test.</param>
/// <param name="Values">For <see cref="HeaderMatch.OneOf"/> and <see cref="HeaderMatch.Prefix"/>: 1 to 100 values.</param>
/// <param name="Min">For <see cref="HeaderMatch.Range"/>: lowest value, inclusive, or null for none.</param>
/// <param name="Max">For <see cref="HeaderMatch.Range"/>: highest value, inclusive, or null for none.</param>
[GenerateSerializer, Immutable, Alias("ob.header-predicate")]
public sealed record HeaderPredicate(
    [property: Id(0)] string Header,
    [property: Id(1)] HeaderMatch Match,
    [property: Id(2)] IReadOnlyList<string>? Values = null,
    [property: Id(3)] double? Min = null,
    [property: Id(4)] double? Max = null)
{
    /// <summary>The header equals <paramref name="value"/>.</summary>
    public static HeaderPredicate EqualTo(string header, string value) => new(header, HeaderMatch.OneOf, [value]);

    /// <summary>Equal when every part is, <see cref="Values"/> compared item by item (so that subscribing again with the same filter is a no-op).</summary>
    public bool Equals(HeaderPredicate? other) =>
        other is not null && Header == other.Header && Match == other.Match && Min == other.Min && Max == other.Max
        && (Values ?? []).SequenceEqual(other.Values ?? [], StringComparer.Ordinal);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(Header, Match, Min, Max, Values?.Count ?? 0);

    /// <summary>Whether <paramref name="headers"/> pass this test.</summary>
    public bool Matches(IReadOnlyDictionary<string, string>? headers)
    {
        string? value = null;
        var present = headers is not null && headers.TryGetValue(Header, out value);
        return Match switch
        {
            HeaderMatch.Exists => present,
            HeaderMatch.NotExists => !present,
            HeaderMatch.OneOf => present && Values!.Contains(value!, StringComparer.Ordinal),
            HeaderMatch.Prefix => present && Values!.Any(p => value!.StartsWith(p, StringComparison.Ordinal)),
            HeaderMatch.Range => present && double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var number)
                && (Min is null || number >= Min) && (Max is null || number <= Max),
            _ => false,
        };
    }

    internal string? Explain()
    {
        if (string.IsNullOrEmpty(Header) || Header.Length > BrokerLimits.MaxHeaderNameLength)
        {
            return $"a header name must be 1 to {BrokerLimits.MaxHeaderNameLength} characters";
        }

        switch (Match)
        {
            case HeaderMatch.OneOf or HeaderMatch.Prefix:
                if (Values is not { Count: > 0 and <= SubscriptionFilter.MaxValues } || Values.Any(v => v is null))
                {
                    return $"header '{Header}': {Match} needs 1 to {SubscriptionFilter.MaxValues} non-null values";
                }

                break;
            case HeaderMatch.Range:
                if (Min is null && Max is null || Min is { } min && Max is { } max && min > max || double.IsNaN(Min ?? 0) || double.IsNaN(Max ?? 0))
                {
                    return $"header '{Header}': Range needs Min and/or Max, with Min ≤ Max";
                }

                break;
            case HeaderMatch.Exists or HeaderMatch.NotExists:
                break;
            default:
                return $"header '{Header}': unknown match {Match}";
        }

        return null;
    }
}

/// <summary>
/// Which messages of a topic a subscription takes: those whose routing key matches any of
/// <paramref name="RoutingKeys"/> (none: every key) and whose headers pass every one of
/// <paramref name="Headers"/>. A pattern is dot-separated words as AMQP topic exchanges have them:
/// <c>*</c> is exactly one word, <c>#</c> zero or more (<c>orders.*.created</c>, <c>orders.#</c>, <c>#</c>).
/// A message without a routing key matches only a filter without patterns, or one with <c>#</c>.
/// </summary>
[GenerateSerializer, Immutable, Alias("ob.subscription-filter")]
public sealed record SubscriptionFilter(
    [property: Id(0)] IReadOnlyList<string>? RoutingKeys = null,
    [property: Id(1)] IReadOnlyList<HeaderPredicate>? Headers = null)
{
    /// <summary>Most patterns, header predicates, or values in one predicate: 100 each.</summary>
    public const int MaxValues = 100;

    /// <summary>Every message.</summary>
    public static SubscriptionFilter All { get; } = new();

    /// <summary>Equal when the patterns and predicates are, item by item, in order.</summary>
    public bool Equals(SubscriptionFilter? other) =>
        other is not null
        && (RoutingKeys ?? []).SequenceEqual(other.RoutingKeys ?? [], StringComparer.Ordinal)
        && (Headers ?? []).SequenceEqual(other.Headers ?? []);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(RoutingKeys?.Count ?? 0, Headers?.Count ?? 0);

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidFilter"/>) naming the first problem.</summary>
    public void Validate()
    {
        if (RoutingKeys is { } keys)
        {
            if (keys.Count > MaxValues)
            {
                throw Invalid($"a filter has at most {MaxValues} routing-key patterns; this one has {keys.Count}");
            }

            foreach (var pattern in keys)
            {
                if (RoutingPattern.Explain(pattern) is { } problem)
                {
                    throw Invalid(problem);
                }
            }
        }

        if (Headers is { } headers)
        {
            if (headers.Count > MaxValues)
            {
                throw Invalid($"a filter has at most {MaxValues} header predicates; this one has {headers.Count}");
            }

            foreach (var predicate in headers)
            {
                if (predicate is null)
                {
                    throw Invalid("a header predicate is null");
                }

                if (predicate.Explain() is { } problem)
                {
                    throw Invalid(problem);
                }
            }
        }
    }

    private static BrokerException Invalid(string problem) => new(BrokerErrorCode.InvalidFilter, $"Invalid subscription filter: {problem}.");
}
