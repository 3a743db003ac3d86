using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using OrleansBroker.Client;
using OrleansBroker.Delivery;
using OrleansBroker.Errors;

namespace OrleansBroker.Streaming;

/// <summary>
/// The broker deliveries one Orleans queue (pulling agent) holds unsettled, by the sequence number of their stream
/// token. Each is settled exactly once: acked when the agent's cache releases it (every consumer got it), or
/// requeued / dead-lettered when a consumer failed on it. Leases are renewed while deliveries wait.
/// </summary>
internal sealed partial class DeliveryLedger(IBrokerClient broker, TimeSpan lease, int maxAttempts, ILogger logger)
{
    private readonly ConcurrentDictionary<long, Entry> _open = new();
    private long _lastRenewalCheck = Environment.TickCount64;

    private sealed record Entry(Delivery.Delivery Delivery, long RenewedAt);

    public int Count => _open.Count;

    public void Add(long token, Delivery.Delivery delivery) => _open[token] = new Entry(delivery, Environment.TickCount64);

    /// <summary>Acks the deliveries of these tokens; a lease that ended meanwhile is logged (the message comes again).</summary>
    public Task AckAsync(IEnumerable<long> tokens) =>
        Task.WhenAll(tokens.Select(token => _open.TryRemove(token, out var entry) ? SettleAsync(entry.Delivery, SettleKind.Ack, null) : Task.CompletedTask));

    /// <summary>
    /// A consumer failed on the delivery of <paramref name="token"/>: requeue it (the queue's retry backoff applies), or
    /// dead-letter it with <paramref name="reason"/> when it has had its last attempt. A second failure of the same
    /// delivery (another consumer of the stream) finds it settled already and does nothing.
    /// </summary>
    public Task FailAsync(long token, string reason)
    {
        if (!_open.TryRemove(token, out var entry))
        {
            return Task.CompletedTask;
        }

        var last = maxAttempts > 0 && entry.Delivery.Attempt >= maxAttempts;
        return SettleAsync(entry.Delivery, last ? SettleKind.DeadLetter : SettleKind.Requeue, last ? $"{reason} Attempt {entry.Delivery.Attempt} of {maxAttempts}." : null);
    }

    /// <summary>Extends the leases of deliveries held longer than half a lease; checks at most every eighth of a lease.</summary>
    public Task RenewDueAsync()
    {
        var now = Environment.TickCount64;
        var leaseMs = (long)lease.TotalMilliseconds;
        if (now - Interlocked.Read(ref _lastRenewalCheck) < leaseMs / 8)
        {
            return Task.CompletedTask;
        }

        Interlocked.Exchange(ref _lastRenewalCheck, now);
        var due = _open.Where(pair => now - pair.Value.RenewedAt > leaseMs / 2).ToList();
        return due.Count == 0 ? Task.CompletedTask : Task.WhenAll(due.Select(pair => RenewAsync(pair.Key, pair.Value, now)));
    }

    private async Task RenewAsync(long token, Entry entry, long now)
    {
        try
        {
            await broker.ExtendLeaseAsync(entry.Delivery, lease).ConfigureAwait(false);
            _open.TryUpdate(token, entry with { RenewedAt = now }, entry);
        }
        catch (BrokerException exception) when (exception.Code == BrokerErrorCode.LeaseLost)
        {
            // It will be delivered again; this copy's settle will report the same.
            LogLeaseLost(entry.Delivery.Queue, entry.Delivery.MessageId, "renew");
        }
        catch (Exception exception)
        {
            LogRenewFailed(exception, entry.Delivery.Queue, entry.Delivery.MessageId);
        }
    }

    private async Task SettleAsync(Delivery.Delivery delivery, SettleKind kind, string? reason)
    {
        try
        {
            await broker.SettleAsync(delivery, kind, reason).ConfigureAwait(false);
        }
        catch (BrokerException exception) when (exception.Code == BrokerErrorCode.LeaseLost)
        {
            LogLeaseLost(delivery.Queue, delivery.MessageId, kind.ToString());
        }
        catch (Exception exception)
        {
            // The lease runs out and the broker delivers it again: at-least-once holds.
            LogSettleFailed(exception, kind, delivery.Queue, delivery.MessageId);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Stream delivery of message {MessageId} from {Queue} lost its lease before {Action}; the broker delivers it again.")]
    private partial void LogLeaseLost(string queue, string messageId, string action);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not extend the lease of message {MessageId} from {Queue}; it may be delivered again.")]
    private partial void LogRenewFailed(Exception exception, string queue, string messageId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not {Kind} message {MessageId} of {Queue}; its lease runs out and the broker delivers it again.")]
    private partial void LogSettleFailed(Exception exception, SettleKind kind, string queue, string messageId);
}
