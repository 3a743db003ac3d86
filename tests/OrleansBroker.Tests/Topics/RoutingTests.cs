using OrleansBroker.Errors;
using OrleansBroker.Topics;
using Xunit;

namespace OrleansBroker.Tests.Topics;

/// <summary>Routing-key patterns (AMQP topic semantics) and header predicates (SNS filter-policy semantics): logic only.</summary>
public sealed class RoutingTests
{
    [Theory]
    [InlineData("orders.*.created", "orders.eu.created", true)]
    [InlineData("orders.*.created", "orders.created", false)]
    [InlineData("orders.*.created", "orders.eu.west.created", false)]
    [InlineData("orders.#", "orders", true)]
    [InlineData("orders.#", "orders.eu.west.created", true)]
    [InlineData("orders.#", "ordersx.eu", false)]
    [InlineData("#.created", "created", true)]
    [InlineData("#.created", "orders.eu.created", true)]
    [InlineData("#.created", "orders.eu.updated", false)]
    [InlineData("orders.#.created", "orders.created", true)]
    [InlineData("orders.#.created", "orders.a.b.created", true)]
    [InlineData("#", "anything.at.all", true)]
    [InlineData("*", "one", true)]
    [InlineData("*", "one.two", false)]
    [InlineData("orders.eu", "orders.eu", true)]
    [InlineData("orders.eu", "orders.EU", false)]
    [InlineData("#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.#.x", "a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.a.y", false)]
    public void Patterns_match_as_AMQP_topic_exchanges_do(string pattern, string key, bool matches) =>
        Assert.Equal(matches, RoutingPattern.Compile(pattern).Matches(key));

    [Fact]
    public void A_message_without_a_routing_key_matches_only_hash() =>
        Assert.Equal([true, false, false], new[] { "#", "*", "orders" }.Select(p => RoutingPattern.Compile(p).Matches(null)));

    [Theory]
    [InlineData("")]
    [InlineData("orders..created")]
    [InlineData(".orders")]
    [InlineData("orders.")]
    [InlineData("orders.cre*ted")]
    [InlineData("orders.##")]
    public void Malformed_patterns_are_refused_with_InvalidFilter(string pattern)
    {
        var error = Assert.Throws<BrokerException>(() => new SubscriptionFilter([pattern]).Validate());
        Assert.Equal(BrokerErrorCode.InvalidFilter, error.Code);
    }

    [Fact]
    public void Header_predicates_test_equality_one_of_prefix_presence_and_numeric_ranges()
    {
        var headers = new Dictionary<string, string> { ["region"] = "eu-west", ["tier"] = "gold", ["amount"] = "150.5" };
        Assert.True(HeaderPredicate.EqualTo("tier", "gold").Matches(headers));
        Assert.False(HeaderPredicate.EqualTo("tier", "silver").Matches(headers));
        Assert.True(new HeaderPredicate("tier", HeaderMatch.OneOf, ["silver", "gold"]).Matches(headers));
        Assert.True(new HeaderPredicate("region", HeaderMatch.Prefix, ["us-", "eu-"]).Matches(headers));
        Assert.True(new HeaderPredicate("region", HeaderMatch.Exists).Matches(headers));
        Assert.True(new HeaderPredicate("vip", HeaderMatch.NotExists).Matches(headers));
        Assert.False(new HeaderPredicate("vip", HeaderMatch.Exists).Matches(null));
        Assert.True(new HeaderPredicate("amount", HeaderMatch.Range, Min: 100, Max: 200).Matches(headers));
        Assert.False(new HeaderPredicate("amount", HeaderMatch.Range, Max: 150).Matches(headers));
        Assert.False(new HeaderPredicate("tier", HeaderMatch.Range, Min: 0).Matches(headers)); // not a number
    }

    [Fact]
    public void Malformed_header_predicates_are_refused_with_InvalidFilter()
    {
        HeaderPredicate[] bad =
        [
            new("", HeaderMatch.Exists),
            new("tier", HeaderMatch.OneOf),
            new("tier", HeaderMatch.Prefix, []),
            new("amount", HeaderMatch.Range),
            new("amount", HeaderMatch.Range, Min: 5, Max: 1),
            new("x", (HeaderMatch)99),
        ];
        foreach (var predicate in bad)
        {
            var error = Assert.Throws<BrokerException>(() => new SubscriptionFilter(Headers: [predicate]).Validate());
            Assert.Equal(BrokerErrorCode.InvalidFilter, error.Code);
        }
    }

    [Fact]
    public void Filters_and_transforms_with_the_same_contents_are_equal_so_subscribing_again_is_a_no_op()
    {
        SubscriptionFilter Make(string pattern, params string[] values) => new([pattern], [new HeaderPredicate("h", HeaderMatch.OneOf, values)]);
        Assert.Equal(Make("a.*", "x", "y"), Make("a.*", "x", "y"));
        Assert.NotEqual(Make("a.*", "x", "y"), Make("a.*", "x"));
        Assert.NotEqual(Make("a.*", "x"), Make("a.#", "x"));
        Assert.Equal(new SubscriptionTransform("t", new Dictionary<string, string> { ["a"] = "1", ["b"] = "2" }),
            new SubscriptionTransform("t", new Dictionary<string, string> { ["b"] = "2", ["a"] = "1" }));
        Assert.NotEqual(new SubscriptionTransform("t", new Dictionary<string, string> { ["a"] = "1" }), new SubscriptionTransform("t"));
    }
}
