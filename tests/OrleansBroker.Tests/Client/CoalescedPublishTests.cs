using System.Collections.Concurrent;
using System.Text;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Topics;
using Xunit;

namespace OrleansBroker.Tests.Client;

/// <summary>
/// Many concurrent single publishes through a real silo on SQLite: the client sends them in far fewer calls, and each caller
/// still gets its own receipt for a message stored once, or its own error.
/// </summary>
public sealed class CoalescedPublishTests : BrokerClusterTest
{
    private const int MaxMessageBytes = 8 * 1024;

    /// <summary>Publish calls that reached the silo's queue and topic grains, by grain interface and method.</summary>
    private readonly ConcurrentDictionary<string, int> _calls = new(StringComparer.Ordinal);

    protected override Task<BrokerCluster> StartAsync() => BrokerCluster.StartAsync(options => options.MaxMessageBytes = MaxMessageBytes,
        silo: silo => silo.AddIncomingGrainCallFilter(call =>
        {
            if (call.InterfaceMethod.Name is "Publish" or "PublishBatch")
            {
                _calls.AddOrUpdate($"{call.InterfaceMethod.DeclaringType!.Name}.{call.InterfaceMethod.Name}", 1, (_, n) => n + 1);
            }

            return call.Invoke();
        }));

    [Fact]
    public async Task Concurrent_single_publishes_to_a_queue_arrive_in_fewer_calls_each_stored_once_and_an_oversize_one_alone_is_refused()
    {
        await Admin.CreateQueueAsync("orders");
        await Broker.PublishAsync("orders", new BrokerMessage("warm-up", [0]));
        _calls.Clear();

        var publishes = Enumerable.Range(0, 400)
            .Select(i => (Id: $"order-{i}", Publish: Broker.PublishAsync("orders", new BrokerMessage($"order-{i}", new byte[i == 123 ? MaxMessageBytes + 1 : 100]))))
            .ToList();
        await Task.WhenAll(publishes.Select(p => p.Publish)).ContinueWith(_ => { }, TaskScheduler.Default).WaitAsync(TimeSpan.FromMinutes(1));

        var tooLarge = await Assert.ThrowsAsync<BrokerException>(() => publishes[123].Publish);
        Assert.Equal(BrokerErrorCode.MessageTooLarge, tooLarge.Code);
        var confirmed = publishes.Where((_, i) => i != 123).Select(p => (p.Id, Receipt: p.Publish.Result)).ToList();
        Assert.All(confirmed, c => Assert.Equal(c.Id, c.Receipt.MessageId));
        Assert.Equal(399, confirmed.Select(c => c.Receipt.Sequence).Distinct().Count());

        var stored = await AllIdsAsync("orders");
        Assert.Equal(["warm-up", .. confirmed.OrderBy(c => c.Receipt.Sequence).Select(c => c.Id)], stored);
        var calls = _calls.Values.Sum();
        Assert.True(calls < 40, $"400 publishes with one refused took {calls} calls: {string.Join(", ", _calls.Select(c => $"{c.Key} {c.Value}"))}");
    }

    [Fact]
    public async Task Concurrent_single_publishes_to_a_topic_each_reach_every_subscription_once()
    {
        await Admin.CreateTopicAsync("events");
        await Admin.CreateSubscriptionAsync("events", new Subscription("audit", SubscriptionFilter.All, new QueueOptions()));
        await Admin.CreateSubscriptionAsync("events", new Subscription("billing", SubscriptionFilter.All, new QueueOptions()));
        await Broker.PublishToTopicAsync("events", new BrokerMessage("warm-up", [0]));
        _calls.Clear();

        var receipts = await Task.WhenAll(Enumerable.Range(0, 300)
            .Select(i => Broker.PublishToTopicAsync("events", new BrokerMessage($"event-{i}", Encoding.UTF8.GetBytes($"event {i}"))))).WaitAsync(TimeSpan.FromMinutes(1));

        Assert.All(receipts, r => Assert.Equal(["audit", "billing"], r.Subscriptions.Order()));
        var expected = new[] { "warm-up" }.Concat(Enumerable.Range(0, 300).Select(i => $"event-{i}")).Order().ToList();
        Assert.Equal(expected, (await AllIdsAsync("events/audit")).Order());
        Assert.Equal(expected, (await AllIdsAsync("events/billing")).Order());
        var topicCalls = _calls.Where(c => c.Key.StartsWith(nameof(ITopicGrain), StringComparison.Ordinal)).Sum(c => c.Value);
        Assert.True(topicCalls < 150, $"300 publishes took {topicCalls} topic calls");
    }

    private async Task<List<string>> AllIdsAsync(string queue)
    {
        var ids = new List<string>();
        for (long after = 0; ;)
        {
            var page = await Broker.PeekAsync(queue, after, 100);
            if (page.Count == 0)
            {
                return ids;
            }

            ids.AddRange(page.Select(m => m.MessageId));
            after = page[^1].Sequence;
        }
    }
}
