using OrleansBroker.Identity;
using Xunit;

namespace OrleansBroker.Tests.Identity;

/// <summary>The permission patterns: globs with '*' and '|' alternatives, no regular expressions.</summary>
public sealed class NamePatternTests
{
    [Theory]
    [InlineData("*", "orders", true)]
    [InlineData("*", "", true)]
    [InlineData("", "orders", false)]
    [InlineData("orders", "orders", true)]
    [InlineData("orders", "orders2", false)]
    [InlineData("orders.*", "orders.eu", true)]
    [InlineData("orders.*", "orders", false)]
    [InlineData("*.dlq", "orders.dlq", true)]
    [InlineData("a*b*c", "aXXbYYc", true)]
    [InlineData("a*b*c", "aXXcYYb", false)]
    [InlineData("events/*", "events/eu", true)]
    [InlineData("orders.*|invoices", "invoices", true)]
    [InlineData("orders.*|invoices", "orders.us", true)]
    [InlineData("orders.*|invoices", "payments", false)]
    [InlineData("Orders", "orders", false)]
    public void A_name_matches_as_the_pattern_says(string pattern, string name, bool matches) => Assert.Equal(matches, NamePattern.Matches(pattern, name));

    [Fact]
    public void A_pattern_of_many_stars_against_a_long_name_that_does_not_match_ends_at_once()
    {
        var pattern = string.Concat(Enumerable.Repeat("a*", 100)) + "b";
        Assert.False(NamePattern.Matches(pattern, new string('a', 200)));
    }

    [Fact]
    public void An_administrator_may_do_all_and_a_principal_only_what_its_tenant_entry_says()
    {
        var access = new PrincipalAccess("acme", [new TenantPermission("acme", Manage: "orders.*", Send: "*")]);
        Assert.True(access.Allows("acme", Operation.Manage, "orders.eu"));
        Assert.False(access.Allows("acme", Operation.Manage, "invoices"));
        Assert.False(access.Allows("acme", Operation.Receive, "orders.eu"));
        Assert.False(access.Allows("globex", Operation.Send, "orders"));
        Assert.True(access.Reaches("acme"));
        Assert.False(access.Reaches("globex"));
        Assert.True((access with { Administrator = true }).Allows("globex", Operation.Receive, "anything"));
    }
}
