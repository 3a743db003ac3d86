using Microsoft.Extensions.Logging;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Log;
using OrleansBroker.Server.Queues.Consumers;
using OrleansBroker.Server.Queues.Leases;
using OrleansBroker.Server.Queues.Limits;
using OrleansBroker.Server.Queues.Scheduling;

namespace OrleansBroker.Server.Queues.Dispatch;

/// <summary>
/// Hands ready messages to consumers: each lease goes to the next consumer with credit (round robin over
/// <see cref="ConsumerSet"/>), its attempt counted before the batch is sent (<see cref="DeliverySender"/>); ends leases
/// (settled, expired, their consumer gone) and puts what comes back where it belongs (<see cref="Retries"/>).
/// </summary>
/// <remarks>
/// <c>deliveriesOut</c>: Called when a dispatch put deliveries out, with the time: the grain makes sure its reminder is on.<br/>
/// <c>siloTerminating</c>: Whether the silo is shutting down (a failed send is then not the consumer's fault).
/// </remarks>
internal sealed partial class Dispatcher
{
    private readonly QueueState _queue;
    private readonly TimeToLive _timeToLive;
    private readonly Retries _retries;
    private readonly Action<DateTimeOffset> _deliveriesOut;
    private readonly ILogger _logger;
    private readonly DeliverySender _sender;
    private readonly List<PendingReceive> _receives = [];

    public Dispatcher(QueueState queue, TimeToLive timeToLive, Retries retries, Action<DateTimeOffset> deliveriesOut, Func<bool> siloTerminating, ILogger logger)
    {
        _queue = queue;
        _timeToLive = timeToLive;
        _retries = retries;
        _deliveriesOut = deliveriesOut;
        _logger = logger;
        _sender = new DeliverySender(queue, this, siloTerminating, logger);
    }

    /// <summary>Longest consumer id.</summary>
    public const int MaxConsumerIdLength = 128;

    /// <summary>Who holds the leases of receive calls (no consumer registers under it).</summary>
    public const string ReceiverId = "(receive)";

    /// <summary>Registers a consumer, or renews its registration (a new observer, prefetch, and credit again after a failed send).</summary>
    public void Register(string consumerId, int prefetch, IConsumerObserver observer)
    {
        if (string.IsNullOrEmpty(consumerId) || consumerId.Length > MaxConsumerIdLength || consumerId == ReceiverId)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Consumer id must be 1 to {MaxConsumerIdLength} characters, and not '{ReceiverId}'.");
        }

        if (prefetch < 1 || prefetch > BrokerLimits.MaxPrefetch)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Prefetch {prefetch} is out of range 1..{BrokerLimits.MaxPrefetch}.");
        }

        ArgumentNullException.ThrowIfNull(observer);
        var now = _queue.Time.GetUtcNow();
        if (_queue.Consumers.TryGet(consumerId, out var consumer))
        {
            consumer.Observer = observer;
            consumer.Prefetch = prefetch;
            consumer.LastSeen = now;
            consumer.Suspended = false;
        }
        else
        {
            // Leases handed over from the previous activation count against its prefetch.
            consumer = new Consumer(consumerId, observer, prefetch, now) { InFlight = _queue.Leases.CountHeldBy(consumerId) };
            _queue.Consumers.Add(consumer);
            LogConsumerAdded(_logger, _queue.Name, consumerId, prefetch);
        }

        Dispatch();
    }

    /// <summary>
    /// Takes up to <paramref name="max"/> ready messages, each leased for <paramref name="lease"/>, waiting up to
    /// <paramref name="wait"/> for the first if none is ready. Answers as soon as it has any (once their attempt counts are
    /// stored), with none when the wait ends or <paramref name="cancellationToken"/> is cancelled first. Waiting receives are
    /// served before push consumers, oldest first.
    /// </summary>
    public async Task<IReadOnlyList<Delivery>> ReceiveAsync(int max, TimeSpan wait, TimeSpan lease, CancellationToken cancellationToken)
    {
        var receive = new PendingReceive(max, lease);
        _receives.Add(receive);
        Dispatch();
        if (!receive.Taken && wait > TimeSpan.Zero)
        {
            try
            {
                await receive.Answer.Task.WaitAsync(wait, _queue.Time, cancellationToken);
            }
            catch (Exception exception) when (exception is TimeoutException or OperationCanceledException)
            {
                // Nothing came in time: answered with nothing below, unless a batch was taken meanwhile.
            }
        }

        if (!receive.Taken)
        {
            _receives.Remove(receive);
            return [];
        }

        return await receive.Answer.Task;
    }

    /// <summary>Answers every waiting receive with nothing (the queue is being deleted or deactivated).</summary>
    public void EndReceives()
    {
        foreach (var receive in _receives)
        {
            receive.Taken = true;
            receive.Answer.TrySetResult([]);
        }

        _receives.Clear();
    }

    /// <summary>Whether receives wait for messages.</summary>
    public bool HasWaitingReceives => _receives.Count > 0;

    /// <summary>Leases ready messages to waiting receives, then to consumers with credit, round robin, and starts sending.</summary>
    public void Dispatch()
    {
        var consumers = _queue.Consumers;
        if (consumers.Count == 0 && _receives.Count == 0)
        {
            return;
        }

        var now = _queue.Time.GetUtcNow();
        var (delivered, redelivered, attemptsToStore) = Lease(now);
        Task? durable = null;
        if (delivered > 0)
        {
            _queue.Count(c => c with { Delivered = c.Delivered + delivered, Redelivered = c.Redelivered + redelivered });
            _deliveriesOut(now);

            // The attempts are written now, while earlier batches are still on their way: a send waits only for its own
            // commit. Messages whose first attempt was stored with them need none, and go at once.
            if (attemptsToStore)
            {
                durable = _queue.Log.CommitPromptlyAsync();
            }
        }

        foreach (var consumer in consumers.All)
        {
            if (consumer.Outbox.Count > 0)
            {
                _sender.Start(consumer, durable);
            }
        }

        if (delivered > 0 && _receives.Count > 0)
        {
            AnswerReceives(durable ?? Task.CompletedTask);
        }
    }

    /// <summary>Removes a consumer; with <paramref name="requeue"/> what it holds is ready again for the others.</summary>
    public void Remove(Consumer consumer, bool requeue)
    {
        _queue.Consumers.Remove(consumer);
        consumer.Outbox = [];
        LogConsumerRemoved(_logger, _queue.Name, consumer.Id);
        if (!requeue)
        {
            return;
        }

        foreach (var (sequence, lease) in _queue.Leases.HeldBy(id => id == consumer.Id))
        {
            ReturnIfLeased(sequence, lease.Token);
        }
    }

    /// <summary>Drops every consumer not seen (registered or renewed) within <paramref name="timeout"/>; what it held is ready again.</summary>
    public void ExpireConsumers(DateTimeOffset now, TimeSpan timeout)
    {
        foreach (var consumer in _queue.Consumers.NotSeenSince(now - timeout))
        {
            Remove(consumer, requeue: true);
        }
    }

    /// <summary>Ends the lease if <paramref name="token"/> holds it, giving its consumer room for one more.</summary>
    public bool TryEndLease(long sequence, long token, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out LogEntry? entry)
    {
        if (!_queue.Log.TryGetEntry(sequence, out entry) || !_queue.Leases.TryEnd(sequence, token, out var lease))
        {
            return false;
        }

        Released(lease);
        return true;
    }

    /// <summary>Ends the lease if <paramref name="token"/> still holds it, and puts the message back without counting a failure.</summary>
    public void ReturnIfLeased(long sequence, long token)
    {
        if (TryEndLease(sequence, token, out var entry))
        {
            _retries.ReturnToReady(entry, recovered: false);
        }
    }

    /// <summary>Ends every lease whose time is up and retries its message; returns whether any ended.</summary>
    public bool ExpireLeases(DateTimeOffset now)
    {
        var expired = _queue.Leases.TakeExpired(now);
        foreach (var (sequence, lease) in expired)
        {
            Released(lease);
            if (_queue.Log.TryGetEntry(sequence, out var entry))
            {
                LogLeaseExpired(_logger, _queue.Name, sequence, lease.ConsumerId);
                _retries.Retry(entry, null);
            }
        }

        return expired.Count > 0;
    }

    /// <summary>The consumer's sends still on their way (a graceful deactivation waits a moment for them).</summary>
    public IEnumerable<Task> SendsUnderWay() => _queue.Consumers.All.Select(c => c.Send).Where(t => !t.IsCompleted);

    /// <summary>How many more messages the waiting receives and the consumers with credit would take now.</summary>
    public long FreeCredit()
    {
        long credit = 0;
        foreach (var receive in _receives)
        {
            credit += receive.Max - receive.Batch.Count;
        }

        foreach (var consumer in _queue.Consumers.All)
        {
            if (consumer.HasCredit)
            {
                credit += consumer.Prefetch - consumer.InFlight;
            }
        }

        return credit;
    }

    /// <summary>
    /// Leases what is ready to consumers with credit into their outboxes; returns how many went, how many of those again,
    /// and whether any attempt count is left to store before they go.
    /// </summary>
    private (long Delivered, long Redelivered, bool AttemptsToStore) Lease(DateTimeOffset now)
    {
        var nowTicks = now.UtcTicks;
        var log = _queue.Log;
        var ready = _queue.Ready;
        long delivered = 0, redelivered = 0;
        var attemptsToStore = false;
        while (ready.TryPeek(out var sequence))
        {
            // Skipped: settled, on its way out, waiting for a time, or a second copy of one already
            // delivered (a redrive that failed puts its messages back).
            if (_queue.Idle(sequence) is not { } entry || entry.NotBefore > nowTicks)
            {
                ready.Dequeue();
                continue;
            }

            // Never delivered once its time to live is over.
            if (entry.ExpiresAt != 0 && entry.ExpiresAt <= nowTicks)
            {
                ready.Dequeue();
                _timeToLive.Expire(entry);
                continue;
            }

            // A paged-out body is read back in the background; the log's OnPagedIn dispatches again, in the same order.
            if (!log.TryGetMessage(entry, out var message))
            {
                break;
            }

            var receive = _receives.Find(r => r.Batch.Count < r.Max);
            var consumer = receive is null ? _queue.Consumers.NextWithCredit() : null;
            if (receive is null && consumer is null)
            {
                break;
            }

            ready.Dequeue();
            attemptsToStore |= log.RecordAttempt(entry);
            var lease = _queue.Leases.Grant(sequence, consumer?.Id ?? ReceiverId, now + (receive?.Lease ?? _queue.Options.LeaseDuration));
            var delivery = new Delivery(_queue.Name, message.MessageId, sequence, message.Body, message.ContentType, message.Headers,
                message.RoutingKey, message.EnqueuedAt, entry.Attempts, lease.Token, lease.ExpiresAt, message.Priority, message.OrderingKey);
            if (consumer is not null)
            {
                consumer.InFlight++;
                if (consumer.Outbox.Count == 0)
                {
                    // A new outbox waits for no earlier commit; one its attempts need is set by Dispatch.
                    consumer.OutboxDurable = Task.CompletedTask;
                }

                consumer.Outbox.Add(delivery);
            }
            else
            {
                receive!.Batch.Add(delivery);
            }
            delivered++;
            if (entry.Attempts > 1)
            {
                redelivered++;
            }
        }

        return (delivered, redelivered, attemptsToStore);
    }

    /// <summary>The receives that got a batch leave the waiting list and are answered once <paramref name="durable"/> lands.</summary>
    private void AnswerReceives(Task durable)
    {
        foreach (var receive in _receives)
        {
            if (receive.Batch.Count > 0)
            {
                receive.Taken = true;
                _ = AnswerAsync(receive, durable);
            }
        }

        _receives.RemoveAll(r => r.Taken);
    }

    private async Task AnswerAsync(PendingReceive receive, Task durable)
    {
        try
        {
            await durable;
        }
        catch (BrokerException exception)
        {
            // The attempts were not stored: the messages go back without them, and the caller hears why (as a publish would).
            ReturnUnsent(receive.Batch, undoAttempts: true);
            receive.Answer.TrySetException(exception);
            return;
        }

        var batch = receive.Batch.FindAll(d => _queue.Leases.Holds(d.Sequence, d.LeaseToken));
        foreach (var delivery in batch)
        {
            if (_queue.Leases.TryGet(delivery.Sequence, out var lease))
            {
                lease.Received = true;
            }
        }

        receive.Answer.TrySetResult(batch);
    }

    /// <summary>Deliveries that did not go out go back to ready for anyone; with <paramref name="undoAttempts"/> their attempt is not counted.</summary>
    public void ReturnUnsent(IEnumerable<Delivery> deliveries, bool undoAttempts)
    {
        foreach (var delivery in deliveries)
        {
            if (undoAttempts && _queue.Log.TryGetEntry(delivery.Sequence, out var entry) && _queue.Leases.Holds(delivery.Sequence, delivery.LeaseToken))
            {
                _queue.Log.UndoAttempt(entry);
            }

            ReturnIfLeased(delivery.Sequence, delivery.LeaseToken);
        }
    }

    /// <summary>A lease of the consumer ended: it has room for one more.</summary>
    private void Released(Lease lease)
    {
        if (_queue.Consumers.TryGet(lease.ConsumerId, out var consumer))
        {
            consumer.InFlight--;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: consumer {Consumer} registered (prefetch {Prefetch})")]
    private static partial void LogConsumerAdded(ILogger logger, string queue, string consumer, int prefetch);

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue}: consumer {Consumer} removed")]
    private static partial void LogConsumerRemoved(ILogger logger, string queue, string consumer);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Queue {Queue}: lease of message {Sequence} held by {Consumer} expired")]
    private static partial void LogLeaseExpired(ILogger logger, string queue, long sequence, string consumer);
}
