using System.Text;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Topics.Routing;
using OrleansBroker.Server.Topics.Transforms;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Topics;
using Xunit;

namespace OrleansBroker.Tests.Topics.Routing;

/// <summary>The routing of a publish without a silo: which subscription takes what, transformed how, and what the topic retains.</summary>
public sealed class TopicRouterTests
{
    private static readonly TransformRegistry Transforms = new([new JsonProjectTransform()]);

    private static Subscription Sub(string name, params string[] keys) =>
        new(name, keys.Length == 0 ? SubscriptionFilter.All : new SubscriptionFilter(keys), new QueueOptions());

    private static BrokerMessage Message(string? id, string key, string body = "{}") =>
        new(id, Encoding.UTF8.GetBytes(body), RoutingKey: key, TimeToLive: TimeSpan.FromMinutes(1));

    [Fact]
    public void Each_subscription_takes_what_its_filter_matches_under_one_id_and_the_rest_is_unrouted()
    {
        var router = new TopicRouter("shop", new TopicOptions(), [Sub("orders", "order.*"), Sub("all"), Sub("eu", "*.eu")], Transforms);

        var plan = router.Plan([Message("m1", "order.eu"), Message(null, "order.us"), Message("m3", "stock.us")], TestClock.Start, 1024);

        Assert.Equal(["all", "eu", "orders"], plan.Receipts[0].Subscriptions);
        Assert.Equal(["all", "orders"], plan.Receipts[1].Subscriptions);
        Assert.Equal(["all"], plan.Receipts[2].Subscriptions);
        Assert.Equal(0, plan.Unrouted);
        var generated = plan.Receipts[1].MessageId;
        Assert.False(string.IsNullOrEmpty(generated));
        Assert.Equal(["m1", generated], plan.Copies[router.Find("orders")!].Select(m => m.Id));
        Assert.Equal(["m1"], plan.Copies[router.Find("eu")!].Select(m => m.Id));
        Assert.Equal("shop/orders", router.Find("orders")!.Queue);
        Assert.Null(plan.Retained);

        var none = new TopicRouter("shop", new TopicOptions(), [Sub("orders", "order.*")], Transforms).Plan([Message("x", "stock.eu")], TestClock.Start, 1024);
        Assert.Equal(1, none.Unrouted);
        Assert.Empty(none.Receipts[0].Subscriptions);
        Assert.Empty(none.Copies);
    }

    [Fact]
    public void A_failed_transform_makes_a_dead_letter_with_its_reason_and_the_retained_copy_keeps_no_time_to_live()
    {
        var projecting = new Subscription("slim", SubscriptionFilter.All, new QueueOptions { DeadLetterQueue = "slim-dlq" },
            new SubscriptionTransform("json-project", new Dictionary<string, string> { ["keep"] = "id" }));
        var router = new TopicRouter("shop", new TopicOptions { RetentionTime = TimeSpan.FromHours(1) }, [projecting], Transforms);

        var plan = router.Plan([Message("ok", "k", """{"id":1,"secret":2}"""), Message("bad", "k", "not json")], TestClock.Start, 1024);

        var slim = router.Find("slim")!;
        Assert.Equal("""{"id":1}""", Encoding.UTF8.GetString(plan.Copies[slim].Single().Body));
        var dead = plan.DeadLetters[slim].Single();
        Assert.Equal("bad", dead.Id);
        Assert.Null(dead.TimeToLive);
        Assert.Contains(dead.Headers!, h => h.Value.Contains("transform 'json-project' failed", StringComparison.Ordinal));
        Assert.Equal(["slim"], plan.Receipts[1].DeadLettered!);
        Assert.Equal(["ok", "bad"], plan.Retained!.Select(m => m.Id));
        Assert.All(plan.Retained!, m => Assert.Null(m.TimeToLive));
    }
}
