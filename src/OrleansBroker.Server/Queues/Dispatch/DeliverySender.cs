using Microsoft.Extensions.Logging;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Server.Queues.Consumers;

namespace OrleansBroker.Server.Queues.Dispatch;

/// <summary>
/// Sends each consumer its leased deliveries, one batch call at a time per consumer (what is leased meanwhile goes in the next
/// call, in order), each batch only once the commit holding its attempt counts has landed. A batch that does not arrive goes
/// back to ready for any consumer.
/// </summary>
internal sealed partial class DeliverySender(QueueState queue, Dispatcher dispatcher, Func<bool> siloTerminating, ILogger logger)
{
    /// <summary>Starts the consumer's send loop unless one is running; <paramref name="durable"/> is the commit of what was just leased to it.</summary>
    public void Start(Consumer consumer, Task? durable)
    {
        if (durable is not null)
        {
            consumer.OutboxDurable = durable;
        }

        if (consumer.Send.IsCompleted)
        {
            consumer.Send = SendAsync(consumer);
        }
    }

    private async Task SendAsync(Consumer consumer)
    {
        while (consumer.Outbox.Count > 0 && queue.Consumers.IsCurrent(consumer))
        {
            var batch = consumer.Outbox;
            var durable = consumer.OutboxDurable;
            consumer.Outbox = [];
            if (!await CommitAttemptsAsync(consumer, batch, durable))
            {
                return;
            }

            if (batch.Count == 0)
            {
                continue;
            }

            try
            {
                await consumer.Observer.Deliver(batch);
                foreach (var delivery in batch)
                {
                    if (queue.Leases.TryGet(delivery.Sequence, out var lease) && lease.Token == delivery.LeaseToken)
                    {
                        lease.Received = true;
                    }
                }
            }
            catch (Exception exception) when (siloTerminating())
            {
                // The silo is shutting down and can no longer reach clients: the consumer is not at fault. It keeps what it
                // has (handed off on deactivation); this batch, which it did not get, goes back to be delivered again.
                LogDeliverFailedOnShutdown(logger, exception, queue.Name, consumer.Id, batch.Count);
                ReturnUnsent(consumer, batch);
                return;
            }
            catch (Exception exception)
            {
                // The batch did not arrive (or its answer was lost: at least once). What the consumer holds stays leased to it:
                // it may well be working on it, reached through another gateway. It gets nothing more until it registers again,
                // which a live client does within its renew interval; one that does not is dropped with the rest.
                LogDeliverFailed(logger, exception, queue.Name, consumer.Id, batch.Count);
                consumer.Suspended = true;
                ReturnUnsent(consumer, batch);
                dispatcher.Dispatch();
                return;
            }
        }
    }

    /// <summary>
    /// Waits for the commit holding the batch's attempt counts (started when they were leased, shared with whatever else
    /// was written) before the batch goes out, so a message whose handling takes the silo down still reaches its attempt
    /// limit. What ended meanwhile (the consumer went, a lease expired) is left out. False if the consumer went or the
    /// commit failed; then the batch is back in ready without the attempt and the tick tries again.
    /// </summary>
    private async Task<bool> CommitAttemptsAsync(Consumer consumer, List<Delivery> batch, Task durable)
    {
        try
        {
            await durable;
        }
        catch (BrokerException exception)
        {
            batch.AddRange(consumer.Outbox);
            consumer.Outbox = [];
            LogAttemptCommitFailed(logger, exception, queue.Name, batch.Count);
            dispatcher.ReturnUnsent(batch, undoAttempts: true);
            return false;
        }

        batch.RemoveAll(delivery => !IsLeased(delivery));
        return queue.Consumers.IsCurrent(consumer);
    }

    private bool IsLeased(Delivery delivery) => queue.Leases.Holds(delivery.Sequence, delivery.LeaseToken);

    /// <summary>A failed batch, and what was queued behind it, goes back to ready for any consumer.</summary>
    private void ReturnUnsent(Consumer consumer, List<Delivery> batch)
    {
        batch.AddRange(consumer.Outbox);
        consumer.Outbox = [];
        dispatcher.ReturnUnsent(batch, undoAttempts: false);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: delivery of {Count} messages to consumer {Consumer} failed; they go back to ready and the consumer gets no more until it registers again")]
    private static partial void LogDeliverFailed(ILogger logger, Exception exception, string queue, string consumer, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: the silo is shutting down; {Count} deliveries to consumer {Consumer} did not go out and will be delivered again")]
    private static partial void LogDeliverFailedOnShutdown(ILogger logger, Exception exception, string queue, string consumer, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: the attempt counts of {Count} deliveries could not be stored; they go back to ready and are sent once storage answers")]
    private static partial void LogAttemptCommitFailed(ILogger logger, Exception exception, string queue, int count);
}
