using System.Text;
using System.Text.Json.Nodes;
using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Server.Topics.Transforms;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Topics;
using Xunit;

namespace OrleansBroker.Tests.Topics;

/// <summary>Transforms per subscription through a real silo on SQLite: built-ins, a user's own, and a failing one.</summary>
public sealed class TopicTransformTests : BrokerClusterTest
{
    protected override Task<BrokerCluster> StartAsync() => BrokerCluster.StartAsync(silo: s => s.Services.AddBrokerTransform<UpperCaseTransform>());

    [Fact]
    public async Task Each_subscription_holds_its_own_transform_of_the_message_and_a_failing_transform_dead_letters_only_its_copy()
    {
        await Admin.CreateTopicAsync("shop");
        Task Subscribe(string name, string? transform, params (string Key, string Value)[] settings) =>
            Admin.CreateSubscriptionAsync("shop", new Subscription(name, SubscriptionFilter.All, new QueueOptions(),
                transform is null ? null : new SubscriptionTransform(transform, settings.ToDictionary(s => s.Key, s => s.Value))));
        await Subscribe("plain", null);
        await Subscribe("events", "cloudevents-wrap", ("source", "/shop"));
        await Subscribe("slim", "json-project", ("keep", "id"));
        await Subscribe("strict", "cloudevents-unwrap");
        await Subscribe("loud", "upper-case");

        var headers = new Dictionary<string, string> { ["tenant"] = "acme" };
        var receipt = await Broker.PublishToTopicAsync("shop",
            new BrokerMessage("order-1", Encoding.UTF8.GetBytes("""{"id":1,"note":"gift"}"""), "application/json", headers, "shop.order.created"));
        Assert.Equal(["events", "loud", "plain", "slim", "strict"], receipt.Subscriptions);
        Assert.Equal(["strict"], receipt.DeadLettered);

        await Cluster.RestartSilosAsync();

        async Task<Delivery> One(string subscription) => Assert.Single(await Broker.ReceiveAndAckAsync($"shop/{subscription}", 1));
        Assert.Equal("""{"id":1,"note":"gift"}""", (await One("plain")).BodyText());

        var cloudEvent = await One("events");
        Assert.Equal("application/cloudevents+json", cloudEvent.ContentType);
        var envelope = (JsonObject)JsonNode.Parse(cloudEvent.Body)!;
        Assert.Equal("order-1", envelope["id"]!.GetValue<string>());
        Assert.Equal("shop.order.created", envelope["type"]!.GetValue<string>());
        Assert.Equal("gift", envelope["data"]!["note"]!.GetValue<string>());

        Assert.Equal("""{"id":1}""", (await One("slim")).BodyText());
        var loud = await One("loud");
        Assert.Equal("""{"ID":1,"NOTE":"GIFT"}""", loud.BodyText());
        Assert.Equal("order-1", loud.MessageId);

        Assert.Equal(0, (await Admin.GetQueueInfoAsync("shop/strict")).Depth);
        var dead = Assert.Single(await Broker.PeekAsync("shop/strict.dlq"));
        Assert.Equal("order-1", dead.MessageId);
        Assert.StartsWith("transform 'cloudevents-unwrap' failed: not a CloudEvent", dead.Headers![BrokerHeaders.DeadLetterReason], StringComparison.Ordinal);
        Assert.Equal("shop/strict", dead.Headers[BrokerHeaders.SourceQueue]);
        Assert.Equal("acme", dead.Headers["tenant"]);
    }

    [Fact]
    public async Task Unknown_transforms_bad_settings_and_a_transform_without_a_dead_letter_queue_are_refused()
    {
        await Admin.CreateTopicAsync("t");
        async Task<BrokerErrorCode> Refused(SubscriptionTransform transform, QueueOptions? queue = null) =>
            (await Assert.ThrowsAsync<BrokerException>(() => Admin.CreateSubscriptionAsync("t", new Subscription("s", SubscriptionFilter.All, queue ?? new QueueOptions(), transform)))).Code;

        Assert.Equal(BrokerErrorCode.InvalidOptions, await Refused(new SubscriptionTransform("no-such")));
        Assert.Equal(BrokerErrorCode.InvalidOptions, await Refused(new SubscriptionTransform("cloudevents-wrap", new Dictionary<string, string> { ["mode"] = "sideways" })));
        Assert.Equal(BrokerErrorCode.InvalidOptions, await Refused(new SubscriptionTransform("upper-case"), new QueueOptions { MaxDeliveryAttempts = 0, DeadLetterQueue = "" }));
        Assert.Empty((await Admin.GetTopicInfoAsync("t")).Subscriptions);
    }

    /// <summary>A user's transform, registered on the silo with AddBrokerTransform.</summary>
    private sealed class UpperCaseTransform : IMessageTransform
    {
        public string Name => "upper-case";

        public void Validate(IReadOnlyDictionary<string, string> settings)
        {
        }

        public BrokerMessage Apply(BrokerMessage message, TransformContext context) =>
            message with { Body = Encoding.UTF8.GetBytes(Encoding.UTF8.GetString(message.Body).ToUpperInvariant()) };
    }
}
