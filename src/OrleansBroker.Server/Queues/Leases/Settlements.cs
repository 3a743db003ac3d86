using OrleansBroker.Errors;
using OrleansBroker.Queues;
using OrleansBroker.Server.Queues.DeadLetters;
using OrleansBroker.Server.Queues.Dispatch;
using OrleansBroker.Server.Queues.Scheduling;
using OrleansBroker.Server.Telemetry;

namespace OrleansBroker.Server.Queues.Leases;

/// <summary>
/// What consumers say of their deliveries: settles (ack, abandon, dead-letter) and lease extensions. A lease is checked
/// against its token and its end when the call arrives, not only on the expiry tick: after the lease's end a settle is
/// <see cref="SettleStatus.LeaseLost"/>. A settle call either holds or is safe to repeat (<see cref="UnconfirmedSettles"/>).
/// </summary>
internal sealed class Settlements(QueueState queue, Dispatcher dispatcher, Retries retries, DeadLetterOutbox deadLetters, LeaseHandOff handOff)
{
    /// <summary>Settles whose commit failed that a retry can still confirm.</summary>
    public const int MaxUnconfirmed = 100_000;

    private readonly UnconfirmedSettles _unconfirmed = new(MaxUnconfirmed);

    public async Task<IReadOnlyList<SettleStatus>> SettleAsync(IReadOnlyList<Settlement> settlements)
    {
        SettleRequests.Validate(settlements);
        if (handOff.AnyPending && settlements.Any(s => handOff.IsPending(s.Sequence)))
        {
            // A lease handed over from the previous activation becomes a lease again when recovery reaches its message.
            await queue.Log.Recovery;
        }

        // A lease ends at its time, not at the next expiry tick: a settle that comes after it is LeaseLost.
        dispatcher.ExpireLeases(queue.Time.GetUtcNow());
        var results = Apply(settlements);
        dispatcher.Dispatch();
        try
        {
            await queue.Log.CommitAsync();
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

    /// <summary>Moves the lease's end to now + <paramref name="duration"/>; <see cref="BrokerErrorCode.LeaseLost"/> if the token no longer holds it.</summary>
    public async Task<DateTimeOffset> ExtendAsync(long sequence, long leaseToken, TimeSpan duration)
    {
        if (duration < QueueOptions.MinLeaseDuration || duration > QueueOptions.MaxLeaseDuration)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Lease extension {duration} is out of range {QueueOptions.MinLeaseDuration}..{QueueOptions.MaxLeaseDuration}.");
        }

        if (handOff.IsPending(sequence))
        {
            await queue.Log.Recovery;
        }

        // As for settles: an extension that comes after the lease's end is refused, and what ended is ready again.
        if (dispatcher.ExpireLeases(queue.Time.GetUtcNow()))
        {
            dispatcher.Dispatch();
            queue.Log.FlushInBackground();
        }

        var expiresAt = queue.Time.GetUtcNow() + duration;
        if (!queue.Leases.Extend(sequence, leaseToken, expiresAt))
        {
            throw new BrokerException(BrokerErrorCode.LeaseLost,
                $"Message {sequence} of queue '{queue.Name}' is no longer leased to this delivery; it may be delivered again.");
        }

        return expiresAt;
    }

    public void Clear() => _unconfirmed.Clear();

    private SettleStatus[] Apply(IReadOnlyList<Settlement> settlements)
    {
        var results = new SettleStatus[settlements.Count];
        long acked = 0;
        for (var i = 0; i < settlements.Count; i++)
        {
            var settlement = settlements[i];
            if (!dispatcher.TryEndLease(settlement.Sequence, settlement.LeaseToken, out var entry))
            {
                // A retry of a settle applied by a call whose commit failed holds once this call's commit lands.
                results[i] = _unconfirmed.TryTake(settlement.Sequence, settlement.LeaseToken) ? SettleStatus.Ok : SettleStatus.LeaseLost;
                continue;
            }

            switch (settlement.Kind)
            {
                case SettleKind.Ack:
                    queue.Remove(entry);
                    acked++;
                    break;
                case SettleKind.Requeue:
                    retries.Retry(entry, settlement.Delay);
                    queue.Metrics.Abandoned(1);
                    break;
                default:
                    deadLetters.Add(entry, string.IsNullOrWhiteSpace(settlement.Reason) ? "rejected by consumer" : settlement.Reason, DeadLetterCause.Rejected);
                    break;
            }
        }

        if (acked > 0)
        {
            queue.Count(c => c with { Acked = c.Acked + acked });
        }

        return results;
    }
}
