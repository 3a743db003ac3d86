using Microsoft.Extensions.Logging;
using OrleansBroker.Delivery;
using OrleansBroker.Errors;
using OrleansBroker.Queues;
using OrleansBroker.Server.Log;
using OrleansBroker.Server.Queues.Consumers;
using OrleansBroker.Server.Queues.Leases;

namespace OrleansBroker.Server.Queues;

internal sealed partial class QueueGrain
{
    private const int MaxConsumerIdLength = 128;

    /// <summary>Settles whose commit failed that a retry can still confirm (see <see cref="UnconfirmedSettles"/>).</summary>
    private const int MaxUnconfirmedSettles = 100_000;

    private readonly LeaseTable _leases = new();
    private readonly UnconfirmedSettles _unconfirmed = new(MaxUnconfirmedSettles);
    private readonly ConsumerSet _consumers = new();
    /// <summary>Messages on their way out (to the dead-letter queue, or redriven): never dispatched.</summary>
    private readonly HashSet<long> _leaving = [];


    public Task<ConsumerRegistration> Subscribe(string consumerId, int prefetch, IConsumerObserver observer)
    {
        EnsureCreated();
        if (string.IsNullOrEmpty(consumerId) || consumerId.Length > MaxConsumerIdLength)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Consumer id must be 1 to {MaxConsumerIdLength} characters.");
        }

        if (prefetch < 1 || prefetch > BrokerLimits.MaxPrefetch)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Prefetch {prefetch} is out of range 1..{BrokerLimits.MaxPrefetch}.");
        }

        ArgumentNullException.ThrowIfNull(observer);
        var now = _time.GetUtcNow();
        if (_consumers.TryGet(consumerId, out var consumer))
        {
            consumer.Observer = observer;
            consumer.Prefetch = prefetch;
            consumer.LastSeen = now;
            consumer.Suspended = false;
        }
        else
        {
            // Leases handed over from the previous activation count against its prefetch.
            consumer = new Consumer(consumerId, observer, prefetch, now) { InFlight = _leases.CountHeldBy(consumerId) };
            _consumers.Add(consumer);
            LogConsumerAdded(_name, consumerId, prefetch);
        }

        Dispatch();
        return Task.FromResult(new ConsumerRegistration(_options.ConsumerRenewInterval, _options.ConsumerRenewInterval * 3, PartitionCount));
    }

    public Task Unsubscribe(string consumerId)
    {
        EnsureCreated();
        if (_consumers.TryGet(consumerId, out var consumer))
        {
            RemoveConsumer(consumer, requeue: true);
            Dispatch();
        }

        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<SettleStatus>> Settle(IReadOnlyList<Settlement> settlements)
    {
        EnsureCreated();
        SettleRequests.Validate(settlements);

        if (_handedOff.Count > 0 && settlements.Any(s => _handedOff.ContainsKey(s.Sequence)))
        {
            // A lease handed over from the previous activation becomes a lease again when recovery reaches its message.
            await _log.Recovery;
        }

        // A lease ends at its time, not at the next expiry tick: a settle that comes after it is LeaseLost.
        ExpireLeases(_time.GetUtcNow());
        var results = new SettleStatus[settlements.Count];
        long acked = 0;
        for (var i = 0; i < settlements.Count; i++)
        {
            var settlement = settlements[i];
            if (!TryEndLease(settlement.Sequence, settlement.LeaseToken, out var entry))
            {
                // A retry of a settle applied by a call whose commit failed holds once this call's commit lands.
                results[i] = _unconfirmed.TryTake(settlement.Sequence, settlement.LeaseToken) ? SettleStatus.Ok : SettleStatus.LeaseLost;
                continue;
            }

            switch (settlement.Kind)
            {
                case SettleKind.Ack:
                    _log.Settle(entry);
                    _ready.Finish(entry);
                    acked++;
                    break;
                case SettleKind.Requeue:
                    Retry(entry, settlement.Delay);
                    break;
                default:
                    DeadLetter(entry, string.IsNullOrWhiteSpace(settlement.Reason) ? "rejected by consumer" : settlement.Reason);
                    break;
            }
        }

        if (acked > 0)
        {
            Count(c => c with { Acked = c.Acked + acked });
        }

        Dispatch();
        try
        {
            await _log.CommitAsync();
        }
        catch (BrokerException)
        {
            // Applied, not durable: the next commit stores them, and a retry of this call is answered Ok once it has.
            for (var i = 0; i < settlements.Count; i++)
            {
                if (results[i] == SettleStatus.Ok)
                {
                    _unconfirmed.Add(settlements[i].Sequence, settlements[i].LeaseToken);
                }
            }

            throw;
        }

        return results;
    }

    public async Task<DateTimeOffset> ExtendLease(long sequence, long leaseToken, TimeSpan duration)
    {
        EnsureCreated();
        if (duration < QueueOptions.MinLeaseDuration || duration > QueueOptions.MaxLeaseDuration)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Lease extension {duration} is out of range {QueueOptions.MinLeaseDuration}..{QueueOptions.MaxLeaseDuration}.");
        }

        if (_handedOff.ContainsKey(sequence))
        {
            await _log.Recovery;
        }

        // As for settles: an extension that comes after the lease's end is refused, and what ended is ready again.
        if (ExpireLeases(_time.GetUtcNow()))
        {
            Dispatch();
            _log.FlushInBackground();
        }

        var expiresAt = _time.GetUtcNow() + duration;
        if (!_leases.Extend(sequence, leaseToken, expiresAt))
        {
            throw new BrokerException(BrokerErrorCode.LeaseLost,
                $"Message {sequence} of queue '{_name}' is no longer leased to this delivery; it may be delivered again.");
        }

        return expiresAt;
    }

    /// <summary>Leases ready messages to consumers with credit, round robin, and starts sending.</summary>
    private void Dispatch()
    {
        if (_consumers.Count == 0)
        {
            return;
        }

        var now = _time.GetUtcNow();
        var nowTicks = now.UtcTicks;
        long delivered = 0, redelivered = 0;
        while (_ready.TryPeek(out var sequence))
        {
            // Skipped: settled, on its way out, waiting for a time, or a second copy of one already
            // delivered (a redrive that failed puts its messages back).
            if (!_log.TryGetEntry(sequence, out var entry) || _leaving.Contains(sequence) || _leases.IsLeased(sequence) || entry.NotBefore > nowTicks)
            {
                _ready.Dequeue();
                continue;
            }

            // Never delivered once its time to live is over.
            if (entry.ExpiresAt != 0 && entry.ExpiresAt <= nowTicks)
            {
                _ready.Dequeue();
                Expire(entry);
                continue;
            }

            // A paged-out body is read back in the background; OnPagedIn dispatches again, in the same order.
            if (!_log.TryGetMessage(entry, out var message) || _consumers.NextWithCredit() is not { } consumer)
            {
                break;
            }

            _ready.Dequeue();
            _log.RecordAttempt(entry);
            var lease = _leases.Grant(sequence, consumer.Id, now + Options.LeaseDuration);
            consumer.InFlight++;
            consumer.Outbox.Add(new Delivery.Delivery(_name, message.MessageId, sequence, message.Body, message.ContentType, message.Headers,
                message.RoutingKey, message.EnqueuedAt, entry.Attempts, lease.Token, lease.ExpiresAt, message.Priority, message.OrderingKey));
            delivered++;
            if (entry.Attempts > 1)
            {
                redelivered++;
            }
        }

        Task? durable = null;
        if (delivered > 0)
        {
            Count(c => c with { Delivered = c.Delivered + delivered, Redelivered = c.Redelivered + redelivered });
            if (!_reminderOn && _reminderUpdate.IsCompleted)
            {
                // The durable wake-up goes in as soon as deliveries are out, not on the next tick.
                _ = UpdateReminderAsync(now);
            }

            // The attempts are written now, while earlier batches are still on their way: a send waits only for its own commit.
            durable = _log.CommitPromptlyAsync();
        }

        foreach (var consumer in _consumers.All)
        {
            if (consumer.Outbox.Count == 0)
            {
                continue;
            }

            if (durable is not null)
            {
                consumer.OutboxDurable = durable;
            }

            if (consumer.Send.IsCompleted)
            {
                consumer.Send = SendAsync(consumer);
            }
        }
    }

    /// <summary>One batch call at a time per consumer: what is leased meanwhile goes in the next call, in order.</summary>
    private async Task SendAsync(Consumer consumer)
    {
        while (consumer.Outbox.Count > 0 && _consumers.IsCurrent(consumer))
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
                    if (_leases.TryGet(delivery.Sequence, out var lease) && lease.Token == delivery.LeaseToken)
                    {
                        lease.Received = true;
                    }
                }
            }
            catch (Exception exception) when (_silo.CurrentStatus.IsTerminating())
            {
                // The silo is shutting down and can no longer reach clients: the consumer is not at fault. It keeps what it
                // has (handed off on deactivation); this batch, which it did not get, goes back to be delivered again.
                LogDeliverFailedOnShutdown(exception, _name, consumer.Id, batch.Count);
                ReturnUnsent(consumer, batch);
                return;
            }
            catch (Exception exception)
            {
                // The batch did not arrive (or its answer was lost: at least once). What the consumer holds stays leased to it:
                // it may well be working on it, reached through another gateway. It gets nothing more until it registers again,
                // which a live client does within its renew interval; one that does not is dropped with the rest (ExpireConsumers).
                LogDeliverFailed(exception, _name, consumer.Id, batch.Count);
                consumer.Suspended = true;
                ReturnUnsent(consumer, batch);
                Dispatch();
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
    private async Task<bool> CommitAttemptsAsync(Consumer consumer, List<Delivery.Delivery> batch, Task durable)
    {
        try
        {
            await durable;
        }
        catch (BrokerException exception)
        {
            batch.AddRange(consumer.Outbox);
            consumer.Outbox = [];
            LogAttemptCommitFailed(exception, _name, batch.Count);
            foreach (var delivery in batch)
            {
                if (_log.TryGetEntry(delivery.Sequence, out var entry) && IsLeased(delivery))
                {
                    _log.UndoAttempt(entry);
                }
            }

            ReturnUnsent(consumer, batch);
            return false;
        }

        batch.RemoveAll(delivery => !IsLeased(delivery));
        return _consumers.IsCurrent(consumer);
    }

    private bool IsLeased(Delivery.Delivery delivery) => _leases.Holds(delivery.Sequence, delivery.LeaseToken);

    /// <summary>A failed Deliver's batch, and what was queued behind it, goes back to ready for any consumer.</summary>
    private void ReturnUnsent(Consumer consumer, List<Delivery.Delivery> batch)
    {
        batch.AddRange(consumer.Outbox);
        consumer.Outbox = [];
        foreach (var delivery in batch)
        {
            if (TryEndLease(delivery.Sequence, delivery.LeaseToken, out var entry))
            {
                ReturnToReady(entry, recovered: false);
            }
        }
    }

    private void RemoveConsumer(Consumer consumer, bool requeue)
    {
        _consumers.Remove(consumer);
        consumer.Outbox = [];
        LogConsumerRemoved(_name, consumer.Id);
        if (!requeue)
        {
            return;
        }

        foreach (var (sequence, lease) in _leases.HeldBy(id => id == consumer.Id))
        {
            if (TryEndLease(sequence, lease.Token, out var entry))
            {
                ReturnToReady(entry, recovered: false);
            }
        }
    }

    private bool TryEndLease(long sequence, long token, out LogEntry entry)
    {
        if (!_log.TryGetEntry(sequence, out entry!) || !_leases.TryEnd(sequence, token, out var lease))
        {
            return false;
        }

        Released(lease);
        return true;
    }

    /// <summary>A lease of the consumer ended: it has room for one more.</summary>
    private void Released(Lease lease)
    {
        if (_consumers.TryGet(lease.ConsumerId, out var consumer))
        {
            consumer.InFlight--;
        }
    }

    /// <summary>Ends every lease whose time is up and retries its message; returns whether any ended.</summary>
    private bool ExpireLeases(DateTimeOffset now)
    {
        var expired = _leases.TakeExpired(now);
        foreach (var (sequence, lease) in expired)
        {
            Released(lease);
            if (_log.TryGetEntry(sequence, out var entry))
            {
                LogLeaseExpired(_name, sequence, lease.ConsumerId);
                Retry(entry, null);
            }
        }

        return expired.Count > 0;
    }

    private void ExpireConsumers(DateTimeOffset now)
    {
        var timeout = _options.ConsumerRenewInterval * 3;
        foreach (var consumer in _consumers.NotSeenSince(now - timeout))
        {
            RemoveConsumer(consumer, requeue: true);
        }

        EndOrphanedLeases(now);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: consumer {Consumer} registered (prefetch {Prefetch})")]
    private partial void LogConsumerAdded(string queue, string consumer, int prefetch);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: its log was changed by another writer (an activation on a failing silo, or a second one); this activation steps down and the queue loads again on the next call")]
    private partial void LogTakenOver(string queue);

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: consumer {Consumer} removed")]
    private partial void LogConsumerRemoved(string queue, string consumer);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: delivery of {Count} messages to consumer {Consumer} failed; they go back to ready and the consumer gets no more until it registers again")]
    private partial void LogDeliverFailed(Exception exception, string queue, string consumer, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: the silo is shutting down; {Count} deliveries to consumer {Consumer} did not go out and will be delivered again")]
    private partial void LogDeliverFailedOnShutdown(Exception exception, string queue, string consumer, int count);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Queue {Queue}: lease of message {Sequence} held by {Consumer} expired")]
    private partial void LogLeaseExpired(string queue, long sequence, string consumer);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: the attempt counts of {Count} deliveries could not be stored; they go back to ready and are sent once storage answers")]
    private partial void LogAttemptCommitFailed(Exception exception, string queue, int count);
}
