using System.Net;
using System.Text.Json.Nodes;
using OrleansBroker.Identity;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using static OrleansBroker.Tests.Http.HttpBroker;

namespace OrleansBroker.Tests.Http;

/// <summary>The paged queue list the console reads (<c>GET /api/queues?page=</c>): filter, sort, page, dead-letter depths, bad input.</summary>
public sealed class HttpQueuePagesTests : IAsyncLifetime
{
    private HttpBroker _broker = null!;

    private HttpClient Admin => _broker.Admin;

    public async Task InitializeAsync() => _broker = await HttpBroker.StartAsync();

    public async Task DisposeAsync() => await _broker.DisposeAsync();

    [Fact]
    public async Task Pages_hold_the_matching_queues_in_name_order_or_by_a_figure_with_their_dead_letter_depth()
    {
        foreach (var i in Enumerable.Range(0, 7))
        {
            await CreateQueueAsync(Admin, $"billing-{i}");
        }

        await CreateQueueAsync(Admin, "shipping");
        await ExpectAsync(await Admin.PostAsync("/api/queues/billing-3/messages/batch", Json(new[] { new { body = "a" }, new { body = "b" }, new { body = "c" } })), HttpStatusCode.Created);
        await ExpectAsync(await Admin.PostAsync("/api/queues/billing-5/messages/batch", Json(new[] { new { body = "d" }, new { body = "e" } })), HttpStatusCode.Created);
        var failed = Assert.Single(await ReceiveAsync(Admin, "billing-5"))!;
        await ExpectAsync(await SettleAsync(Admin, "billing-5", failed, "dead-letter", new { reason = "bad" }), HttpStatusCode.NoContent);
        await Eventually.HoldsAsync(async () => await Admin.GetAsync("/api/queues/billing-5.dlq") is { StatusCode: HttpStatusCode.OK } found
            && JsonNode.Parse(await found.Content.ReadAsStringAsync())!["depth"]!.GetValue<long>() == 1, "the dead letter in billing-5.dlq");

        var first = await PageAsync("?page=1&pageSize=3&name=BILLING-");
        Assert.Equal(["billing-0", "billing-1", "billing-2"], Names(first));
        Assert.Equal(8, first["filteredCount"]!.GetValue<int>()); // the seven and billing-5.dlq
        Assert.Equal(9, first["totalCount"]!.GetValue<int>());    // and shipping
        Assert.Equal(3, first["pageCount"]!.GetValue<int>());
        Assert.Equal(0, first["items"]![0]!["deadLetterDepth"]!.GetValue<long>());

        var last = await PageAsync("?page=3&pageSize=3&name=billing-");
        Assert.Equal(["billing-5.dlq", "billing-6"], Names(last));
        var beyond = await PageAsync("?page=9&pageSize=3&name=billing-");
        Assert.Empty(beyond["items"]!.AsArray());

        var busiest = await PageAsync("?page=1&pageSize=2&sort=ready&sortReverse=true");
        Assert.Equal(["billing-3", "billing-5"], Names(busiest));
        Assert.Equal(1, busiest["items"]![1]!["deadLetterDepth"]!.GetValue<long>());
        Assert.Equal(1, busiest["items"]![1]!["ready"]!.GetValue<long>());
        var reversed = await PageAsync("?page=1&pageSize=1&sortReverse=true");
        Assert.Equal(["shipping"], Names(reversed));

        // The whole list without page is as it was: an array.
        Assert.Equal(9, JsonNode.Parse(await ExpectAsync(await Admin.GetAsync("/api/queues"), HttpStatusCode.OK))!.AsArray().Count);
    }

    [Fact]
    public async Task A_page_counts_only_the_queues_the_caller_may_manage()
    {
        await CreateQueueAsync(Admin, "billing-a");
        await CreateQueueAsync(Admin, "shipping-a");
        var key = await _broker.CreateKeyAsync("billing-team", new PrincipalAccess("", [new TenantPermission("", Manage: "billing-*")]));
        var team = _broker.Client(Bearer(key));
        var page = JsonNode.Parse(await ExpectAsync(await team.GetAsync("/api/queues?page=1"), HttpStatusCode.OK))!;
        Assert.Equal(["billing-a"], Names(page));
        Assert.Equal(1, page["totalCount"]!.GetValue<int>());
    }

    [Fact]
    public async Task The_overview_and_the_lists_read_queues_not_in_memory_from_storage_and_leave_them_there()
    {
        await CreateQueueAsync(Admin, "resting-a");
        await CreateQueueAsync(Admin, "resting-b");
        await ExpectAsync(await Admin.PostAsync("/api/queues/resting-b/messages/batch", Json(new[] { new { body = "a" }, new { body = "b" } })), HttpStatusCode.Created);
        await _broker.Cluster.DeactivateIdleQueuesAsync();

        var overview = JsonNode.Parse(await ExpectAsync(await Admin.GetAsync("/api/overview"), HttpStatusCode.OK))!;
        Assert.Equal(2, overview["messages"]!["ready"]!.GetValue<long>());
        Assert.Equal(2, overview["counters"]!["published"]!.GetValue<long>());
        var busiest = await PageAsync("?page=1&sort=depth&sortReverse=true");
        Assert.Equal(["resting-b", "resting-a"], Names(busiest));
        Assert.All(busiest["items"]!.AsArray(), q => Assert.False(q!["inMemory"]!.GetValue<bool>()));
        var all = JsonNode.Parse(await ExpectAsync(await Admin.GetAsync("/api/queues"), HttpStatusCode.OK))!.AsArray();
        Assert.Equal([0L, 2L], all.Select(q => q!["ready"]!.GetValue<long>()));
        Assert.Equal(0, await _broker.Cluster.QueueActivationsAsync());

        // Asked by name, a queue is loaded and answers from memory.
        var one = JsonNode.Parse(await ExpectAsync(await Admin.GetAsync("/api/queues/resting-b"), HttpStatusCode.OK))!;
        Assert.True(one["inMemory"]!.GetValue<bool>());
        Assert.Equal(2, one["ready"]!.GetValue<long>());
    }

    [Theory]
    [InlineData("?page=0")]
    [InlineData("?page=x")]
    [InlineData("?page=1&pageSize=0")]
    [InlineData("?page=1&pageSize=501")]
    [InlineData("?page=1&sort=colour")]
    [InlineData("?page=1&sortReverse=maybe")]
    public async Task Bad_page_parameters_are_a_400_naming_them(string query)
    {
        var problem = await ExpectProblemAsync(await Admin.GetAsync($"/api/queues{query}"), HttpStatusCode.BadRequest, "InvalidOptions");
        Assert.Matches("page|sort", problem["detail"]!.GetValue<string>());
    }

    private async Task<JsonNode> PageAsync(string query) => JsonNode.Parse(await ExpectAsync(await Admin.GetAsync($"/api/queues{query}"), HttpStatusCode.OK))!;

    private static string[] Names(JsonNode page) => [.. page["items"]!.AsArray().Select(q => q!["name"]!.GetValue<string>())];
}
