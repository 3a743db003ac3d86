using System.Globalization;
using Microsoft.Extensions.Logging;
using OrleansBroker.Delivery;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Log;

namespace OrleansBroker.Server.Queues;

internal sealed partial class QueueGrain
{
    private const int MaxConsumerIdLength = 128;
    private const int DeadLetterBatch = 100;

    /// <summary>Ready messages by sequence: FIFO, and a requeued message goes back to its place.</summary>
    private readonly PriorityQueue<long, long> _ready = new();
    private readonly Dictionary<long, Lease> _leases = [];
    private readonly PriorityQueue<(long Sequence, long Token), DateTimeOffset> _expiries = new();
    private readonly Dictionary<string, Consumer> _consumers = [];
    private readonly List<Consumer> _rotation = [];
    private readonly List<(LogEntry Entry, string Reason)> _deadLetterOutbox = [];
    private readonly HashSet<long> _deadLettered = [];
    private long _nextToken = Random.Shared.NextInt64(1, long.MaxValue / 2);
    private int _rotationIndex;
    private bool _deadLettering;

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
        if (_consumers.TryGetValue(consumerId, out var consumer))
        {
            consumer.Observer = observer;
            consumer.Prefetch = prefetch;
            consumer.LastSeen = now;
        }
        else
        {
            consumer = new Consumer(consumerId, observer, prefetch, now);
            _consumers.Add(consumerId, consumer);
            _rotation.Add(consumer);
            LogConsumerAdded(_name, consumerId, prefetch);
        }

        Dispatch();
        return Task.FromResult(new ConsumerRegistration(_options.ConsumerRenewInterval, _options.ConsumerRenewInterval * 3));
    }

    public Task Unsubscribe(string consumerId)
    {
        EnsureCreated();
        if (_consumers.TryGetValue(consumerId, out var consumer))
        {
            RemoveConsumer(consumer, requeue: true);
            Dispatch();
        }

        return Task.CompletedTask;
    }

    public async Task<IReadOnlyList<SettleStatus>> Settle(IReadOnlyList<Settlement> settlements)
    {
        EnsureCreated();
        ArgumentNullException.ThrowIfNull(settlements);
        foreach (var settlement in settlements)
        {
            // Checked before any lease ends: a refused call leaves every delivery as it was.
            if (!Enum.IsDefined(settlement.Kind))
            {
                throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Unknown settle kind {settlement.Kind}; nothing in this call was settled.");
            }
        }

        var results = new SettleStatus[settlements.Count];
        long acked = 0;
        for (var i = 0; i < settlements.Count; i++)
        {
            var settlement = settlements[i];
            if (!TryEndLease(settlement.Sequence, settlement.LeaseToken, out var entry))
            {
                results[i] = SettleStatus.LeaseLost;
                continue;
            }

            switch (settlement.Kind)
            {
                case SettleKind.Ack:
                    _log.Settle(entry.Sequence);
                    acked++;
                    break;
                case SettleKind.Requeue:
                    ReturnToReady(entry);
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
        await _log.CommitAsync();
        return results;
    }

    public Task<DateTimeOffset> ExtendLease(long sequence, long leaseToken, TimeSpan duration)
    {
        EnsureCreated();
        if (duration < QueueOptions.MinLeaseDuration || duration > QueueOptions.MaxLeaseDuration)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Lease extension {duration} is out of range {QueueOptions.MinLeaseDuration}..{QueueOptions.MaxLeaseDuration}.");
        }

        if (!_leases.TryGetValue(sequence, out var lease) || lease.Token != leaseToken)
        {
            throw new BrokerException(BrokerErrorCode.LeaseLost,
                $"Message {sequence} of queue '{_name}' is no longer leased to this delivery; it may be delivered again.");
        }

        lease.ExpiresAt = _time.GetUtcNow() + duration;
        _expiries.Enqueue((sequence, leaseToken), lease.ExpiresAt);
        return Task.FromResult(lease.ExpiresAt);
    }

    /// <summary>Leases ready messages to consumers with credit, round robin, and starts sending.</summary>
    private void Dispatch()
    {
        if (_rotation.Count == 0)
        {
            return;
        }

        var now = _time.GetUtcNow();
        long delivered = 0, redelivered = 0;
        while (_ready.TryPeek(out var sequence, out _))
        {
            if (!_log.TryGetEntry(sequence, out var entry) || _deadLettered.Contains(sequence))
            {
                _ready.Dequeue();
                continue;
            }

            // A paged-out body is read back in the background; OnPagedIn dispatches again, in the same order.
            if (!_log.TryGetMessage(entry, out var message) || NextConsumerWithCredit() is not { } consumer)
            {
                break;
            }

            _ready.Dequeue();
            _log.RecordAttempt(entry);
            var token = ++_nextToken;
            var expiresAt = now + Options.LeaseDuration;
            _leases[sequence] = new Lease(consumer.Id, token, expiresAt);
            _expiries.Enqueue((sequence, token), expiresAt);
            consumer.InFlight++;
            consumer.Outbox.Add(new Delivery.Delivery(_name, message.MessageId, sequence, message.Body, message.ContentType, message.Headers,
                message.RoutingKey, message.EnqueuedAt, entry.Attempts, token, expiresAt));
            delivered++;
            if (entry.Attempts > 1)
            {
                redelivered++;
            }
        }

        if (delivered > 0)
        {
            Count(c => c with { Delivered = c.Delivered + delivered, Redelivered = c.Redelivered + redelivered });
            if (!_reminderOn && _reminderUpdate.IsCompleted)
            {
                // The durable wake-up goes in as soon as deliveries are out, not on the next tick.
                _ = UpdateReminderAsync(now);
            }
        }

        foreach (var consumer in _rotation)
        {
            if (consumer.Outbox.Count > 0 && !consumer.Sending)
            {
                _ = SendAsync(consumer);
            }
        }
    }

    private Consumer? NextConsumerWithCredit()
    {
        for (var i = 0; i < _rotation.Count; i++)
        {
            var consumer = _rotation[(_rotationIndex + i) % _rotation.Count];
            if (consumer.HasCredit)
            {
                _rotationIndex = (_rotationIndex + i + 1) % _rotation.Count;
                return consumer;
            }
        }

        return null;
    }

    /// <summary>One batch call at a time per consumer: what is leased meanwhile goes in the next call, in order.</summary>
    private async Task SendAsync(Consumer consumer)
    {
        consumer.Sending = true;
        try
        {
            while (consumer.Outbox.Count > 0 && _consumers.GetValueOrDefault(consumer.Id) == consumer)
            {
                var batch = consumer.Outbox;
                consumer.Outbox = [];
                try
                {
                    await consumer.Observer.Deliver(batch);
                }
                catch (Exception exception)
                {
                    LogDeliverFailed(exception, _name, consumer.Id);
                    if (_consumers.GetValueOrDefault(consumer.Id) == consumer)
                    {
                        RemoveConsumer(consumer, requeue: true);
                        Dispatch();
                    }

                    return;
                }
            }
        }
        finally
        {
            consumer.Sending = false;
        }
    }

    private void RemoveConsumer(Consumer consumer, bool requeue)
    {
        _consumers.Remove(consumer.Id);
        _rotation.Remove(consumer);
        consumer.Outbox = [];
        LogConsumerRemoved(_name, consumer.Id);
        if (!requeue)
        {
            return;
        }

        foreach (var (sequence, lease) in _leases.Where(l => l.Value.ConsumerId == consumer.Id).ToList())
        {
            if (TryEndLease(sequence, lease.Token, out var entry))
            {
                ReturnToReady(entry);
            }
        }
    }

    private bool TryEndLease(long sequence, long token, out LogEntry entry)
    {
        entry = null!;
        if (!_leases.TryGetValue(sequence, out var lease) || lease.Token != token || !_log.TryGetEntry(sequence, out entry!))
        {
            return false;
        }

        _leases.Remove(sequence);
        if (_consumers.TryGetValue(lease.ConsumerId, out var consumer))
        {
            consumer.InFlight--;
        }

        return true;
    }

    /// <summary>A message whose delivery ended unsettled goes back to ready, or to the dead-letter queue once out of attempts.</summary>
    private void ReturnToReady(LogEntry entry)
    {
        var max = Options.MaxDeliveryAttempts;
        if (max > 0 && entry.Attempts >= max)
        {
            DeadLetter(entry, $"delivery attempts exhausted ({entry.Attempts} of {max})");
        }
        else
        {
            _ready.Enqueue(entry.Sequence, entry.Sequence);
        }
    }

    private void ExpireLeases(DateTimeOffset now)
    {
        while (_expiries.TryPeek(out var key, out var at) && at <= now)
        {
            _expiries.Dequeue();
            if (_leases.TryGetValue(key.Sequence, out var lease) && lease.Token == key.Token && lease.ExpiresAt <= now
                && TryEndLease(key.Sequence, key.Token, out var entry))
            {
                LogLeaseExpired(_name, key.Sequence, lease.ConsumerId);
                ReturnToReady(entry);
            }
        }
    }

    private void ExpireConsumers(DateTimeOffset now)
    {
        var timeout = _options.ConsumerRenewInterval * 3;
        foreach (var consumer in _rotation.Where(c => now - c.LastSeen > timeout).ToList())
        {
            RemoveConsumer(consumer, requeue: true);
        }
    }

    private void DeadLetter(LogEntry entry, string reason)
    {
        if (Options.ResolveDeadLetterQueue(_name) is null)
        {
            // Only an explicit dead-letter nack gets here (a queue without a DLQ has unlimited attempts): the consumer asked to drop it.
            LogDroppedWithoutDeadLetterQueue(_name, entry.Sequence, reason);
            _log.Settle(entry.Sequence);
            return;
        }

        if (_deadLettered.Add(entry.Sequence))
        {
            _deadLetterOutbox.Add((entry, reason));
            EnsureDeadLettering();
        }
    }

    /// <summary>Starts moving the dead-letter outbox unless a move is running; a failed move is retried from the tick.</summary>
    private void EnsureDeadLettering()
    {
        if (_deadLetterOutbox.Count > 0 && !_deadLettering)
        {
            _ = DeadLetterLoopAsync();
        }
    }

    /// <summary>
    /// Moves dead letters in batches: stored in the dead-letter queue first, then settled here, so
    /// a crash in between can only duplicate a dead letter, never lose it. Failures are retried on the next tick.
    /// </summary>
    private async Task DeadLetterLoopAsync()
    {
        _deadLettering = true;
        try
        {
            var target = GrainFactory.GetGrain<IDeadLetterTarget>(Options.ResolveDeadLetterQueue(_name)!);
            while (_deadLetterOutbox.Count > 0)
            {
                var batch = _deadLetterOutbox.Take(DeadLetterBatch).ToList();
                try
                {
                    var letters = new List<BrokerMessage>(batch.Count);
                    foreach (var (entry, reason) in batch)
                    {
                        letters.Add(ToDeadLetter(entry, await _log.ReadMessageAsync(entry), reason));
                    }

                    await target.AcceptDeadLetters(letters);
                }
                catch (Exception exception)
                {
                    LogDeadLetterFailed(exception, _name, batch.Count);
                    return;
                }

                _deadLetterOutbox.RemoveRange(0, batch.Count);
                foreach (var (entry, _) in batch)
                {
                    _deadLettered.Remove(entry.Sequence);
                    _log.Settle(entry.Sequence);
                }

                Count(c => c with { DeadLettered = c.DeadLettered + batch.Count });
                await _log.CommitAsync();
            }
        }
        finally
        {
            _deadLettering = false;
        }
    }

    private BrokerMessage ToDeadLetter(LogEntry entry, StoredMessage message, string reason)
    {
        var headers = message.Headers is null ? new Dictionary<string, string>() : new Dictionary<string, string>(message.Headers);
        headers[BrokerHeaders.DeadLetterReason] = reason;
        headers[BrokerHeaders.SourceQueue] = _name;
        headers[BrokerHeaders.Attempts] = entry.Attempts.ToString(CultureInfo.InvariantCulture);
        headers[BrokerHeaders.OriginalEnqueuedAt] = message.EnqueuedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);
        return new BrokerMessage(message.MessageId, message.Body, message.ContentType, headers, message.RoutingKey);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: consumer {Consumer} registered (prefetch {Prefetch})")]
    private partial void LogConsumerAdded(string queue, string consumer, int prefetch);

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: consumer {Consumer} removed")]
    private partial void LogConsumerRemoved(string queue, string consumer);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: delivery to consumer {Consumer} failed; it is dropped and its deliveries requeued")]
    private partial void LogDeliverFailed(Exception exception, string queue, string consumer);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Queue {Queue}: lease of message {Sequence} held by {Consumer} expired")]
    private partial void LogLeaseExpired(string queue, long sequence, string consumer);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: moving {Count} messages to the dead-letter queue failed; retrying")]
    private partial void LogDeadLetterFailed(Exception exception, string queue, int count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: message {Sequence} dropped on a dead-letter nack, the queue has no dead-letter queue ({Reason})")]
    private partial void LogDroppedWithoutDeadLetterQueue(string queue, long sequence, string reason);
}
