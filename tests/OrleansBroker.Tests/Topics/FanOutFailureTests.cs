using System.Text;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Tests.Storage;
using OrleansBroker.Topics;
using Xunit;

namespace OrleansBroker.Tests.Topics;

/// <summary>
/// A publish whose fan-out fails for one subscription only (its queue's storage writes fail, the SQLite file behind
/// the others is fine): a passing failure is retried without a second copy anywhere; a lasting one fails the publish,
/// naming the subscription, and publishing again with the same id completes it without duplicates.
/// </summary>
public sealed class FanOutFailureTests : BrokerClusterTest
{
    protected override Task<BrokerCluster> StartAsync() => BrokerCluster.StartAsync(silo: FailingStorage.OverSqlite);

    private FailingStorage Storage => FailingStorage.Of(Cluster);

    private async Task<List<string>> IdsAsync(string queue) => (await Broker.PeekAsync(queue, 0, 100)).Select(m => m.MessageId).ToList();

    [Fact]
    public async Task A_passing_failure_in_one_subscription_is_retried_without_duplicates_and_a_lasting_one_names_it()
    {
        await Admin.CreateTopicAsync("shop");
        await Admin.CreateSubscriptionAsync("shop", new Subscription("steady", SubscriptionFilter.All, new QueueOptions()));
        await Admin.CreateSubscriptionAsync("shop", new Subscription("shaky", SubscriptionFilter.All, new QueueOptions()));
        Storage.OfGrains = grain => grain.Key.ToString() == "shop/shaky";

        // The shaky queue's first commit stores its segment, then its meta write fails: the topic tries that subscription again.
        var metaFailures = 1;
        Storage.FailWrites = name => name == "meta" && Interlocked.Decrement(ref metaFailures) >= 0;
        var receipt = await Broker.PublishToTopicAsync("shop", new BrokerMessage(null, Encoding.UTF8.GetBytes("first")));
        Assert.Equal(["shaky", "steady"], receipt.Subscriptions.Order());
        Assert.True(metaFailures < 0, "the shaky subscription's meta write was failed once");

        // Down for good: the publish fails, typed, naming the subscription it did not reach.
        Storage.FailWrites = _ => true;
        var error = await Assert.ThrowsAsync<BrokerException>(() =>
            Broker.PublishToTopicAsync("shop", new BrokerMessage("second", Encoding.UTF8.GetBytes("second"))));
        Assert.Equal(BrokerErrorCode.StorageUnavailable, error.Code);
        Assert.Contains("stored in 1 of 2", error.Message, StringComparison.Ordinal);
        Assert.Contains("shaky", error.Message, StringComparison.Ordinal);

        // Storage back: the producer's retry with the same id lands where it was missing and nowhere twice.
        Storage.FailWrites = null;
        await Broker.PublishToTopicAsync("shop", new BrokerMessage("second", Encoding.UTF8.GetBytes("second")));

        await Cluster.RestartSilosAsync();
        var steady = await IdsAsync("shop/steady");
        var shaky = await IdsAsync("shop/shaky");
        Assert.Equal(2, steady.Count);
        Assert.Equal(steady, shaky);
        Assert.Equal("second", steady[1]);
    }
}
