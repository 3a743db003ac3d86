using System.Collections.Concurrent;
using System.Text;
using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Topics;
using Xunit;

namespace OrleansBroker.Tests.Client;

/// <summary>The client API as an application meets it: one method per settle outcome, the consumer's error handler, cancellation.</summary>
public sealed class ClientApiTests : BrokerClusterTest
{
    [Fact]
    public async Task Complete_abandon_with_a_retry_after_and_dead_letter_with_a_reason_each_do_what_they_say()
    {
        await Admin.CreateQueueAsync("outcomes");
        await Broker.PublishBatchAsync("outcomes", [.. new[] { "done", "later", "poison" }.Select(id => new BrokerMessage(id, Encoding.UTF8.GetBytes(id)))]);

        // The stream stays open while the deliveries are settled: leaving it gives back what is unsettled.
        await using var stream = Broker.ReadWithTimeoutAsync("outcomes", new ConsumerOptions { Prefetch = 3 }).GetAsyncEnumerator();
        var deliveries = new Dictionary<string, Delivery>();
        while (deliveries.Count < 3 && await stream.MoveNextAsync())
        {
            deliveries.Add(stream.Current.MessageId, stream.Current);
        }

        await Broker.CompleteAsync(deliveries["done"]);
        await Broker.AbandonAsync(deliveries["later"], TimeSpan.FromHours(1));
        await Broker.DeadLetterAsync(deliveries["poison"], "schema v1 unsupported");

        // A dead letter leaves its queue once its copy is stored in the dead-letter queue, just after the settle.
        await Eventually.HoldsAsync(async () => (await Broker.PeekAsync("outcomes")).Count == 1, "the dead letter left the queue");
        var left = Assert.Single(await Broker.PeekAsync("outcomes"));
        Assert.Equal("later", left.MessageId);
        Assert.Equal(MessageState.Delayed, left.State);
        Assert.InRange(left.NotBefore!.Value - DateTimeOffset.UtcNow, TimeSpan.FromMinutes(55), TimeSpan.FromMinutes(61));
        var dead = Assert.Single(await Broker.PeekAsync("outcomes.dlq"));
        Assert.Equal("poison", dead.MessageId);
        Assert.Equal("schema v1 unsupported", dead.Headers![BrokerHeaders.DeadLetterReason]);

        var twice = await Assert.ThrowsAsync<BrokerException>(() => Broker.CompleteAsync(deliveries["done"]));
        Assert.Equal(BrokerErrorCode.LeaseLost, twice.Code);
        Assert.Contains("was not completed", twice.Message);
        var late = await Assert.ThrowsAsync<BrokerException>(() => Broker.AbandonAsync(deliveries["poison"]));
        Assert.Contains("was not abandoned", late.Message);
    }

    [Fact]
    public async Task The_error_handler_hears_of_each_handler_failure_with_its_delivery_and_of_the_queue_deleted()
    {
        await Admin.CreateQueueAsync("failing", new QueueOptions { MaxDeliveryAttempts = 2 });
        await Broker.PublishAsync("failing", "pay", "order-1");
        var errors = new ConcurrentQueue<ConsumerError>();

        var consumer = await Broker.ConsumeAsync("failing", (_, _) => throw new InvalidOperationException("payment service down"),
            errorHandler: error =>
            {
                errors.Enqueue(error);
                return error.Source == ConsumerErrorSource.Handler ? Task.CompletedTask : throw new InvalidOperationException("an error handler that throws is logged, not fatal");
            });
        await using (consumer)
        {
            await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync("failing")).Counters.DeadLettered == 1, "the message was dead-lettered");
            var failures = errors.ToArray();
            Assert.Equal([1, 2], failures.Select(e => e.Delivery!.Attempt));
            Assert.All(failures, e =>
            {
                Assert.Equal(ConsumerErrorSource.Handler, e.Source);
                Assert.Equal("failing", e.Queue);
                Assert.Equal("order-1", e.Delivery!.MessageId);
                Assert.Equal("payment service down", e.Exception.Message);
            });

            await Admin.DeleteQueueAsync("failing");
            await Eventually.HoldsAsync(() => errors.Any(e => e.Source == ConsumerErrorSource.Consumer), "the consumer reported that it stopped");
            var stopped = errors.Single(e => e.Source == ConsumerErrorSource.Consumer);
            Assert.Equal(BrokerErrorCode.QueueNotFound, Assert.IsType<BrokerException>(stopped.Exception).Code);
            Assert.Null(stopped.Delivery);
            var completion = await Assert.ThrowsAsync<BrokerException>(() => consumer.Completion);
            Assert.Equal(BrokerErrorCode.QueueNotFound, completion.Code);
        }
    }

    [Fact]
    public async Task Consuming_a_queue_that_does_not_exist_fails_and_leaves_no_queue_behind()
    {
        var handler = await Assert.ThrowsAsync<BrokerException>(() => Broker.ConsumeAsync("typo", (_, _) => Task.CompletedTask));
        Assert.Equal(BrokerErrorCode.QueueNotFound, handler.Code);
        var stream = await Assert.ThrowsAsync<BrokerException>(async () => await Broker.ReadWithTimeoutAsync("typo").FirstAsync());
        Assert.Equal(BrokerErrorCode.QueueNotFound, stream.Code);
        Assert.DoesNotContain("typo", await Admin.ListQueuesAsync());
    }

    [Fact]
    public async Task A_publish_cancelled_before_it_is_sent_is_not_stored_and_the_caller_is_told()
    {
        await Admin.CreateQueueAsync("cancelled");
        await Admin.CreateTopicAsync("cancelled-topic");
        await Admin.CreateSubscriptionAsync("cancelled-topic", new Subscription("all", SubscriptionFilter.All, new QueueOptions()));
        using var cancel = new CancellationTokenSource();
        await cancel.CancelAsync();
        var message = new BrokerMessage("m1", Encoding.UTF8.GetBytes("x"));

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Broker.PublishAsync("cancelled", message, cancel.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Broker.PublishBatchAsync("cancelled", [message], cancel.Token));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Broker.PublishToTopicAsync("cancelled-topic", message, cancel.Token));

        Assert.Equal(0, (await Admin.GetQueueInfoAsync("cancelled")).Counters.Published);
        Assert.Equal(0, (await Admin.GetTopicInfoAsync("cancelled-topic")).Published);
        Assert.Equal(0, (await Admin.GetQueueInfoAsync("cancelled-topic/all")).Depth);

        // Not cancelled, the same message is stored as its first publish.
        Assert.Equal(1, (await Broker.PublishAsync("cancelled", message)).Sequence);
    }
}
