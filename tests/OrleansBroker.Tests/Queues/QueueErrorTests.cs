using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Queues;

/// <summary>Bad input gets a typed error across the wire, and nothing accepted before is lost.</summary>
public sealed class QueueErrorTests : BrokerClusterTest
{
    protected override Task<BrokerCluster> StartAsync() => BrokerCluster.StartAsync(o => o.MaxMessageBytes = 1000);

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData(".dot-first")]
    [InlineData("two/slash/es")]
    public async Task Invalid_names_are_rejected(string name)
    {
        var error = await Assert.ThrowsAsync<BrokerException>(() => Admin.CreateQueueAsync(name));
        Assert.Equal(BrokerErrorCode.InvalidName, error.Code);
    }

    [Fact]
    public async Task A_name_over_the_limit_is_rejected_by_the_grain_too()
    {
        var error = await Assert.ThrowsAsync<BrokerException>(() => Cluster.Grains.GetGrain<IQueueGrain>(new string('a', BrokerLimits.MaxNameLength + 1)).Create(new QueueOptions()));
        Assert.Equal(BrokerErrorCode.InvalidName, error.Code);
        Assert.Contains("200", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Publishing_to_a_queue_that_does_not_exist_says_so()
    {
        var error = await Assert.ThrowsAsync<BrokerException>(() => Broker.PublishAsync("nowhere", new BrokerMessage(null, [1])));
        Assert.Equal(BrokerErrorCode.QueueNotFound, error.Code);
    }

    [Fact]
    public async Task Bad_messages_are_rejected_and_earlier_ones_stay()
    {
        await Admin.CreateQueueAsync("strict");
        await Broker.PublishAsync("strict", new BrokerMessage("ok", [1, 2, 3]));

        var tooLarge = await Assert.ThrowsAsync<BrokerException>(() => Broker.PublishAsync("strict", new BrokerMessage(null, new byte[1001])));
        Assert.Equal(BrokerErrorCode.MessageTooLarge, tooLarge.Code);
        var reserved = await Assert.ThrowsAsync<BrokerException>(() => Broker.PublishAsync("strict", new BrokerMessage(null, [1], Headers: new Dictionary<string, string> { [BrokerHeaders.SourceQueue] = "x" })));
        Assert.Equal(BrokerErrorCode.InvalidMessage, reserved.Code);
        var manyHeaders = Enumerable.Range(0, BrokerLimits.MaxHeaderCount + 1).ToDictionary(i => $"h{i}", i => "v");
        var headers = await Assert.ThrowsAsync<BrokerException>(() => Broker.PublishAsync("strict", new BrokerMessage(null, [1], Headers: manyHeaders)));
        Assert.Equal(BrokerErrorCode.InvalidMessage, headers.Code);

        // A batch with one bad message is refused whole.
        var batch = await Assert.ThrowsAsync<BrokerException>(() => Broker.PublishBatchAsync("strict", [new BrokerMessage("b1", [1]), new BrokerMessage("b2", new byte[5000])]));
        Assert.Equal(BrokerErrorCode.MessageTooLarge, batch.Code);
        var empty = await Assert.ThrowsAsync<BrokerException>(() => Broker.PublishBatchAsync("strict", []));
        Assert.Equal(BrokerErrorCode.InvalidBatch, empty.Code);

        var info = await Admin.GetQueueInfoAsync("strict");
        Assert.Equal(1, info.Ready);
    }

    [Fact]
    public async Task Creating_again_with_other_options_is_refused_and_with_the_same_is_fine()
    {
        await Admin.CreateQueueAsync("same", new QueueOptions { MaxDeliveryAttempts = 5 });
        await Admin.CreateQueueAsync("same", new QueueOptions { MaxDeliveryAttempts = 5 });
        var error = await Assert.ThrowsAsync<BrokerException>(() => Admin.CreateQueueAsync("same", new QueueOptions { MaxDeliveryAttempts = 6 }));
        Assert.Equal(BrokerErrorCode.QueueExistsWithOtherOptions, error.Code);
    }

    [Fact]
    public async Task Out_of_range_options_are_refused_with_the_range()
    {
        var lease = await Assert.ThrowsAsync<BrokerException>(() => Admin.CreateQueueAsync("opts", new QueueOptions { LeaseDuration = TimeSpan.FromDays(1) }));
        Assert.Equal(BrokerErrorCode.InvalidOptions, lease.Code);
        Assert.Contains("12:00:00", lease.Message, StringComparison.Ordinal);
        var noDlq = await Assert.ThrowsAsync<BrokerException>(() => Admin.CreateQueueAsync("opts", new QueueOptions { DeadLetterQueue = "" }));
        Assert.Equal(BrokerErrorCode.InvalidOptions, noDlq.Code);
    }

    [Fact]
    public async Task A_settle_call_with_an_unknown_kind_is_refused_whole_and_its_deliveries_stay_leased()
    {
        await Admin.CreateQueueAsync("settle-kinds");
        await Broker.PublishBatchAsync("settle-kinds", [new BrokerMessage("a", [1]), new BrokerMessage("b", [2])]);
        await using var reader = Broker.ReadWithTimeoutAsync("settle-kinds", new ConsumerOptions { Prefetch = 2 }).GetAsyncEnumerator();
        Assert.True(await reader.MoveNextAsync());
        var first = reader.Current;
        Assert.True(await reader.MoveNextAsync());
        var second = reader.Current;
        var queue = Cluster.Grains.GetGrain<IQueueGrain>("settle-kinds");

        var error = await Assert.ThrowsAsync<BrokerException>(() => queue.Settle(
            [new Settlement(first.Sequence, first.LeaseToken, SettleKind.Ack), new Settlement(second.Sequence, second.LeaseToken, (SettleKind)99)]));

        Assert.Equal(BrokerErrorCode.InvalidOptions, error.Code);
        Assert.Equal(2, (await Admin.GetQueueInfoAsync("settle-kinds")).InFlight);
        await Broker.CompleteAsync(first);
        await Broker.CompleteAsync(second);
        Assert.Equal(0, (await Admin.GetQueueInfoAsync("settle-kinds")).Depth);
    }

    [Fact]
    public async Task Purge_and_delete_do_what_they_say()
    {
        await Admin.CreateQueueAsync("tmp");
        await Broker.PublishBatchAsync("tmp", Enumerable.Range(0, 10).Select(_ => new BrokerMessage(null, [1])).ToList());
        Assert.Equal(10, await Admin.PurgeQueueAsync("tmp"));
        Assert.Equal(0, (await Admin.GetQueueInfoAsync("tmp")).Depth);
        Assert.Contains("tmp", await Admin.ListQueuesAsync());

        await Admin.DeleteQueueAsync("tmp");
        Assert.DoesNotContain("tmp", await Admin.ListQueuesAsync());
        var error = await Assert.ThrowsAsync<BrokerException>(() => Admin.GetQueueInfoAsync("tmp"));
        Assert.Equal(BrokerErrorCode.QueueNotFound, error.Code);
    }
}
