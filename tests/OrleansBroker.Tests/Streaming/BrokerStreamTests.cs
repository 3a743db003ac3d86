using System.Text;
using Orleans.Streams;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Streaming;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Streaming;

/// <summary>
/// Application grains consuming broker topics through the Orleans streaming API, on a real silo with SQLite storage:
/// implicit and explicit subscriptions, events from Orleans producers and from plain broker publishers, and a failing
/// handler retried with the subscription's backoff and then dead-lettered, across silo restarts.
/// </summary>
public sealed class BrokerStreamTests : BrokerClusterTest
{
    private const string Provider = "broker";
    private const int MaxAttempts = 4;
    private static readonly TimeSpan FirstRetry = TimeSpan.FromMilliseconds(300);
    private readonly string _run = Guid.NewGuid().ToString("N")[..8];

    protected override Task<BrokerCluster> StartAsync() => BrokerCluster.StartAsync(
        silo: s => s.AddBrokerStreams(Provider, o =>
        {
            o.Topics.Add(ImplicitConsumerGrain.Topic);
            o.Topics.Add(ExplicitConsumerGrain.Topic);
            o.Subscription = new QueueOptions
            {
                MaxDeliveryAttempts = MaxAttempts,
                Retry = RetryPolicy.ExponentialBackoff(FirstRetry, TimeSpan.FromSeconds(2)),
                LeaseDuration = TimeSpan.FromSeconds(30),
            };
        }),
        client: c => c.AddBrokerStreams(Provider));

    private static string SubscriptionQueue(string topic) => $"{topic}/orleans-{Provider}";

    private IAsyncStream<OrderEvent> ProducerStream(string topic, string key) =>
        Cluster.Cluster.Client.GetStreamProvider(Provider).GetStream<OrderEvent>(StreamId.Create(topic, key));

    /// <summary>The silo reported started, so the stream provider's topics and subscriptions exist: nothing is waited for.</summary>
    private async Task StreamSubscriptionsExistAsync()
    {
        var queues = await Admin.ListQueuesAsync();
        Assert.Contains(SubscriptionQueue(ImplicitConsumerGrain.Topic), queues);
        Assert.Contains(SubscriptionQueue(ExplicitConsumerGrain.Topic), queues);
    }

    private Task DrainedAsync(string topic, string what) =>
        Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync(SubscriptionQueue(topic))).Depth == 0, what);

    private static Task SeenAsync(string grain, string what) =>
        Eventually.HoldsAsync(() => StreamProbe.Of(grain).Any(s => s.What == what && !s.Failed), $"grain {grain} handled '{what}'");

    [Fact]
    public async Task Implicit_subscribers_get_events_of_orleans_producers_and_of_broker_publishers_before_and_after_a_restart()
    {
        await StreamSubscriptionsExistAsync();
        var fromBroker = $"{_run}-plain";
        var fromOrleans = $"{_run}-typed";

        // A message from any broker client lands on the stream named by its ordering key.
        await Broker.PublishToTopicAsync(ImplicitConsumerGrain.Topic, new BrokerMessage(null, Encoding.UTF8.GetBytes("hello"), OrderingKey: fromBroker));
        await ProducerStream(ImplicitConsumerGrain.Topic, fromOrleans).OnNextAsync(new OrderEvent("o-1", 1));
        await SeenAsync(fromBroker, "hello");
        await SeenAsync(fromOrleans, "o-1:1");

        await Cluster.RestartSilosAsync();

        await ProducerStream(ImplicitConsumerGrain.Topic, fromOrleans).OnNextAsync(new OrderEvent("o-1", 2));
        await Broker.PublishToTopicAsync(ImplicitConsumerGrain.Topic, new BrokerMessage(null, Encoding.UTF8.GetBytes("again"), OrderingKey: fromBroker));
        await SeenAsync(fromOrleans, "o-1:2");
        await SeenAsync(fromBroker, "again");

        // Each grain got its own stream only, and the subscription is drained: every event was acked.
        Assert.All(StreamProbe.Of(fromOrleans), s => Assert.StartsWith("o-1:", s.What, StringComparison.Ordinal));
        Assert.Equal(["hello", "again"], StreamProbe.Of(fromBroker).Select(s => s.What).Distinct());
        await DrainedAsync(ImplicitConsumerGrain.Topic, "the stream subscription holds nothing once the grains handled everything");
    }

    [Fact]
    public async Task Events_published_as_soon_as_the_silo_has_started_reach_their_grain_in_order()
    {
        await StreamSubscriptionsExistAsync();
        var key = $"{_run}-ordered";
        // Batches, so that each delivery to the provider holds many events of the one stream at once. The stream key
        // is a header, not an ordering key: the broker hands the events out together, not one at a time.
        const int Events = 300;
        foreach (var batch in Enumerable.Range(1, Events).Chunk(100))
        {
            await Broker.PublishBatchToTopicAsync(ImplicitConsumerGrain.Topic,
                [.. batch.Select(step => new BrokerMessage($"{key}-{step}", Encoding.UTF8.GetBytes(step.ToString(System.Globalization.CultureInfo.InvariantCulture)),
                    Headers: new Dictionary<string, string> { [BrokerStreamMessage.StreamKeyHeader] = key }))]);
        }

        await Eventually.HoldsAsync(() => StreamProbe.Of(key).Count >= Events, $"the grain handled all {Events} events");
        Assert.Equal(Enumerable.Range(1, Events).Select(step => step.ToString(System.Globalization.CultureInfo.InvariantCulture)), StreamProbe.Of(key).Select(s => s.What));
        Assert.Equal(0, (await Admin.GetTopicInfoAsync(ImplicitConsumerGrain.Topic)).Unrouted);
    }

    [Fact]
    public async Task A_failing_grain_handler_is_retried_with_backoff_and_dead_lettered_across_a_restart_while_others_go_on()
    {
        await StreamSubscriptionsExistAsync();
        var good = $"{_run}-good";
        var flaky = $"{_run}-flaky";
        var poison = $"{_run}-poison";
        foreach (var (key, body) in new[] { (good, "fine"), (flaky, "flaky"), (poison, "poison") })
        {
            await Broker.PublishToTopicAsync(ImplicitConsumerGrain.Topic, new BrokerMessage($"{key}-msg", Encoding.UTF8.GetBytes(body), RoutingKey: key));
        }

        await SeenAsync(good, "fine");
        await Eventually.HoldsAsync(() => StreamProbe.Of(poison).Any(s => s.Failed), "the poison event failed once");
        await Eventually.HoldsAsync(() => StreamProbe.Of(flaky).Any(s => s.Failed && s.Attempt == 1), "the flaky event failed once");

        // Retries are the broker's: they carry on from storage after the silo restarts.
        await Cluster.RestartSilosAsync();

        await SeenAsync(flaky, "flaky");
        var dlq = SubscriptionQueue(ImplicitConsumerGrain.Topic) + ".dlq";
        await Eventually.HoldsAsync(async () => (await Admin.ListQueuesAsync()).Contains(dlq) && (await Admin.GetQueueInfoAsync(dlq)).Depth == 1,
            "the poison event reached the dead-letter queue");

        var dead = Assert.Single(await Broker.PeekAsync(dlq));
        Assert.Equal($"{poison}-msg", dead.MessageId);
        Assert.Equal("poison", Encoding.UTF8.GetString(dead.Body));
        Assert.Contains("Orleans stream consumer", dead.Headers![BrokerHeaders.DeadLetterReason], StringComparison.Ordinal);
        Assert.Equal(MaxAttempts.ToString(System.Globalization.CultureInfo.InvariantCulture), dead.Headers[BrokerHeaders.Attempts]);
        Assert.Contains(StreamProbe.Of(poison), s => s.Failed && s.Attempt == MaxAttempts);

        // The flaky event failed on attempt 1 and was handled once on attempt 3 or later, the retry waiting at least the
        // policy's first delay. A delivery the provider had taken but not yet handed to the grain when the silo stopped is
        // requeued and counts as an attempt (at-least-once), so attempt 2 may never reach the grain.
        var flakySeen = StreamProbe.Of(flaky);
        var success = Assert.Single(flakySeen, s => !s.Failed);
        Assert.InRange(success.Attempt, 3, MaxAttempts);
        var first = Assert.Single(flakySeen, s => s.Attempt == 1);
        var retry = flakySeen.Where(s => s.Attempt > 1).MinBy(s => s.At)!;
        Assert.True(retry.At - first.At >= FirstRetry * 0.9, $"retry came {(retry.At - first.At).TotalMilliseconds} ms after the failure; the policy waits {FirstRetry.TotalMilliseconds} ms");

        // The good event was handled (at least once: at-least-once) and nothing is left in the subscription.
        Assert.Contains(StreamProbe.Of(good), s => s.What == "fine" && s.Attempt == 1 && !s.Failed);
        await DrainedAsync(ImplicitConsumerGrain.Topic, "the stream subscription is drained");
    }

    [Fact]
    public async Task An_explicit_subscription_survives_a_restart_and_gets_typed_and_plain_events()
    {
        await StreamSubscriptionsExistAsync();
        var key = $"{_run}-payer";
        await Cluster.Grains.GetGrain<IStreamTestGrain>(key, "OrleansBroker.Tests.Streaming.ExplicitConsumerGrain").Subscribe();

        await ProducerStream(ExplicitConsumerGrain.Topic, key).OnNextAsync(new OrderEvent("p-1", 1));
        await SeenAsync(key, "p-1:1");

        // The subscription lives in the pub-sub store (the broker's SQLite storage), not in the grain's memory.
        await Cluster.RestartSilosAsync();

        await ProducerStream(ExplicitConsumerGrain.Topic, key).OnNextAsync(new OrderEvent("p-1", 2));
        await Broker.PublishToTopicAsync(ExplicitConsumerGrain.Topic,
            new BrokerMessage(null, Encoding.UTF8.GetBytes("paid"), Headers: new Dictionary<string, string> { [BrokerStreamMessage.StreamKeyHeader] = key }));
        await SeenAsync(key, "p-1:2");
        await SeenAsync(key, "paid");

        // Nobody subscribed to another key of the topic: its events are acked and go nowhere.
        await ProducerStream(ExplicitConsumerGrain.Topic, $"{_run}-nobody").OnNextAsync(new OrderEvent("x", 1));
        await DrainedAsync(ExplicitConsumerGrain.Topic, "events of streams nobody subscribed to are settled, not left in the subscription");
        Assert.Empty(StreamProbe.Of($"{_run}-nobody"));
    }

    [Fact]
    public void Bad_provider_options_are_a_typed_error_before_the_silo_starts()
    {
        var badTopic = new BrokerStreamOptions();
        badTopic.Topics.Add("orders/eu");
        Assert.Equal(BrokerErrorCode.InvalidOptions, Assert.Throws<BrokerException>(() => badTopic.Validate(Provider)).Code);

        var badPrefetch = new BrokerStreamOptions { Prefetch = 0 };
        Assert.Contains("Prefetch", Assert.Throws<BrokerException>(() => badPrefetch.Validate(Provider)).Message, StringComparison.Ordinal);

        var badName = new BrokerStreamOptions { SubscriptionName = "no spaces" };
        Assert.Equal(BrokerErrorCode.InvalidOptions, Assert.Throws<BrokerException>(() => badName.Validate(Provider)).Code);
    }
}
