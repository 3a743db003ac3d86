using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Storage;
using OrleansBroker.Errors;
using OrleansBroker.Queues;
using OrleansBroker.Server.Errors;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Server.Log;
using OrleansBroker.Server.Queues.Ready;
using OrleansBroker.Server.Storage;

namespace OrleansBroker.Server.Queues;

/// <summary>
/// One durable queue. Reentrant so that publishes and settles arriving while a log commit is in
/// flight join the next commit (group commit); all state changes happen between awaits, on the
/// grain's single-threaded scheduler. Split by concern: this file holds lifecycle and admin,
/// <c>QueueGrain.Publish.cs</c> the way in, <c>QueueGrain.Delivery.cs</c> the way out.
/// </summary>
[Reentrant]
[QueuePartitionPlacement]
internal sealed partial class QueueGrain : Grain, IQueueGrain, IDeadLetterTarget, IRemindable, IMessageLogListener
{
    private const string LeaseReminder = "leases";

    private readonly BrokerOptions _options;
    private readonly ILogger<QueueGrain> _logger;
    private readonly TimeProvider _time;
    private readonly IGrainStorage _storage;
    private MessageLog _log = null!;
    private string _name = "";
    private bool _reminderOn;
    private Task _reminderUpdate = Task.CompletedTask;
    private DateTimeOffset _idleSince;

    private readonly ISiloStatusOracle _silo;
    private readonly DiskSpaceAlarm _diskAlarm;

    public QueueGrain(IServiceProvider services, IOptions<BrokerOptions> options, ILogger<QueueGrain> logger, TimeProvider time, ISiloStatusOracle silo, DiskSpaceAlarm diskAlarm)
    {
        _silo = silo;
        _diskAlarm = diskAlarm;
        _options = options.Value;
        _logger = logger;
        _time = time;
        _storage = services.GetRequiredKeyedService<IGrainStorage>(BrokerOptions.StorageProviderName);
        _ready = new ReadyIndex(Idle, () => HeldForGrowth);
    }

    /// <summary>Ready messages in delivery order, and the message groups.</summary>
    private readonly ReadyIndex _ready;

    private QueueOptions Options => _log.Meta.Options;

    /// <summary>The live entry of <paramref name="sequence"/> if it may be delivered now: not settled, on its way out or leased.</summary>
    private LogEntry? Idle(long sequence) =>
        _log.TryGetEntry(sequence, out var entry) && !_leaving.Contains(sequence) && !_leases.IsLeased(sequence) ? entry : null;

    /// <summary>Once recovery has read the whole log, message groups held back meanwhile go on.</summary>
    private async Task ReleaseGroupsAfterRecoveryAsync()
    {
        await _log.Recovery;
        _ready.Recovering = false;
        _ready.ResumeGroups();
        Dispatch();
    }

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _name = this.GetPrimaryKeyString();
        (_queue, _partition) = QueuePartitions.Parse(_name);
        _log = new MessageLog(_storage, this.GetGrainId(), new MessageLogOptions(_options.SegmentMaxBytes, _options.SegmentMaxMessages, _options.ResidentBytesPerQueue, _options.CommitLinger), _logger, this);
        _wakeTimer = this.RegisterGrainTimer(OnWakeAsync, new GrainTimerCreationOptions(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan) { Interleave = true });
        var first = await LoadLogAsync();
        TakeHandedOffLeases();
        _dedup.Load(_log.RecoveredDedupMarks);
        _log.RecoveredDedupMarks.Clear();
        OnRecovered(first);
        _ = ReleaseGroupsAfterRecoveryAsync();

        _reminderOn = await this.GetReminder(LeaseReminder, cancellationToken) is not null;
        _idleSince = _time.GetUtcNow();
        this.RegisterGrainTimer(OnTickAsync, new GrainTimerCreationOptions(_options.LeaseCheckInterval, _options.LeaseCheckInterval) { Interleave = true });
    }

    /// <summary>
    /// Loads the log. A storage failure here fails the activation, and Orleans sends that error to the caller as it is,
    /// past the error boundary that guards calls: it is made readable by every client here.
    /// </summary>
    private async Task<IReadOnlyList<LogEntry>> LoadLogAsync()
    {
        try
        {
            return await _log.LoadAsync();
        }
        catch (Exception exception) when (!ClientSafeErrors.IsReadableByEveryClient(exception))
        {
            var correlationId = ClientSafeErrors.NewCorrelationId();
            LogLoadFailed(exception, _name, correlationId);
            throw ClientSafeErrors.FromStorage(exception, $"load queue '{_name}'", correlationId);
        }
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        await FinishDeadLetteringAsync(cancellationToken);
        _log.Stop();
        await HandOffLeasesAsync();

        // Deliveries still out need the reminder to bring the queue back: make sure it is registered.
        await UpdateReminderAsync(_time.GetUtcNow());

        // Nothing waits for a lazily persisted change (counters, the leases handed off) but it is not lost either.
        try
        {
            await _log.CommitAsync();
        }
        catch (BrokerException exception)
        {
            LogFinalCommitFailed(exception, _name);
        }
    }

    public Task<QueueInfo> Create(QueueOptions options)
    {
        QueueName.Validate(_name);
        RefusePartitionAdmin("create");
        if (QueueName.IsSubscriptionQueue(_name) && !_log.Meta.Created && !_name.EndsWith(QueueName.DeadLetterSuffix, StringComparison.Ordinal))
        {
            throw new BrokerException(BrokerErrorCode.QueueNotFound,
                $"Queue '{_name}' is a topic subscription's queue: subscribe to topic '{_name[.._name.IndexOf('/', StringComparison.Ordinal)]}' to create it.");
        }

        return CreateCore(options);
    }

    public Task<QueueInfo> CreateSubscriptionQueue(QueueOptions options) => CreateCore(options);

    private async Task<QueueInfo> CreateCore(QueueOptions options)
    {
        QueueName.Validate(_name);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(_queue);
        if (_log.Meta.Created)
        {
            if (options != Options)
            {
                throw new BrokerException(BrokerErrorCode.QueueExistsWithOtherOptions,
                    $"Queue '{_name}' exists with other options ({Describe(Options)}); delete it first or create it with the same options.");
            }
        }
        else
        {
            _log.UpdateMeta(meta =>
            {
                meta.Created = true;
                meta.Options = options;
                meta.CreatedAt = _time.GetUtcNow();

                // Nothing of a growth of a queue this name had before it was deleted.
                meta.GrownFrom = -1;
                meta.HeldForGrowth = false;
                meta.GrowingTo = 0;
            });
            await _log.CommitAsync();
            LogCreated(_name, Describe(options));
        }

        if (_partition > 0)
        {
            return Info();
        }

        // After this partition's commit, so a partition that exists always has its queue; a failure is mended by creating again.
        if (LeadsPartitions)
        {
            await Task.WhenAll(OtherPartitions<IQueuePartitionGrain>().Select(p => p.CreatePartition(options)));
        }

        // After the commit, so a listed queue always exists; a failure here is mended by creating again.
        await GrainFactory.GetGrain<IQueueRegistryGrain>(IQueueRegistryGrain.Queues).Add(_name);
        return LeadsPartitions ? await PartitionedInfoAsync() : Info();
    }

    public async Task<QueueInfo> GetInfo()
    {
        EnsureCreated();
        return LeadsPartitions ? await PartitionedInfoAsync() : Info();
    }

    public async Task<long> Purge()
    {
        EnsureCreated();

        // Every message is purged, also those recovery has not read yet.
        await _log.Recovery;
        long purged = 0;
        foreach (var sequence in _ready.TakeAll(_leases.IsLeased).Concat(_delayed.TakeAll()))
        {
            // What is in flight stays: its consumer settles it.
            if (!_leases.IsLeased(sequence) && !_leaving.Contains(sequence) && _log.Settle(sequence))
            {
                purged++;
            }
        }

        _log.UpdateMeta(meta => meta.Counters = meta.Counters with { Purged = meta.Counters.Purged + purged });
        await _log.CommitAsync();
        if (LeadsPartitions)
        {
            purged += (await Task.WhenAll(OtherPartitions<IQueueGrain>().Select(p => p.Purge()))).Sum();
        }

        return purged;
    }

    public Task Delete()
    {
        RefusePartitionAdmin("delete");
        return DeleteCore();
    }

    private async Task DeleteCore()
    {
        EnsureCreated();

        // The other partitions first: a failure part-way leaves partition 0, which can delete again.
        if (LeadsPartitions)
        {
            await Task.WhenAll(OtherPartitions<IQueuePartitionGrain>().Select(p => p.DeletePartition()));
        }

        foreach (var consumer in _consumers.All.ToList())
        {
            RemoveConsumer(consumer, requeue: false);
        }

        _ready.Clear();
        _delayed.Clear();
        _expiring.Clear();
        _dedup.Clear();
        _leases.Clear();
        _unconfirmed.Clear();
        _deadLetterOutbox.Clear();
        await _log.DeleteAllAsync();
        if (_partition == 0)
        {
            await GrainFactory.GetGrain<IQueueRegistryGrain>(IQueueRegistryGrain.Queues).Remove(_name);
        }

        if (await this.GetReminder(LeaseReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }

        _reminderOn = false;
        LogDeleted(_name);
        DeactivateOnIdle();
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        // Being activated is the point: activation reloaded the log and made expired leases ready.
        return OnTickAsync(CancellationToken.None);
    }

    private async Task OnTickAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        ExpireLeases(now);
        ExpireConsumers(now);
        PromoteDue(now);
        ExpireDue(now);
        PruneDeduplication(now);
        AskGrowthSource(now);
        _log.FlushInBackground();
        EnsureDeadLettering();

        Dispatch();
        await UpdateReminderAsync(now);
    }

    /// <summary>Brings the reminder in line with the queue's state; updates run one after another, never interleaved.</summary>
    private Task UpdateReminderAsync(DateTimeOffset now) => _reminderUpdate = UpdateAfterAsync(_reminderUpdate, now);

    private async Task UpdateAfterAsync(Task previous, DateTimeOffset now)
    {
        try
        {
            await previous;
        }
        catch (OperationCanceledException)
        {
            // The previous update was cut short by deactivation; this one still runs.
        }

        await UpdateReminderCoreAsync(now);
    }

    private async Task UpdateReminderCoreAsync(DateTimeOffset now)
    {
        // The reminder is the durable wake-up while deliveries are outstanding; it is dropped after a
        // reminder period without any, so a busy queue does not write the reminder table on every lease.
        var busy = _leases.Count > 0 || _deadLetterOutbox.Count > 0 || _delayed.Count > 0;
        if (busy)
        {
            _idleSince = now;
        }

        try
        {
            if (busy && !_reminderOn)
            {
                _reminderOn = true;
                await this.RegisterOrUpdateReminder(LeaseReminder, _options.ReminderPeriod, _options.ReminderPeriod);
            }
            else if (!busy && _reminderOn && now - _idleSince > _options.ReminderPeriod)
            {
                _reminderOn = false;
                if (await this.GetReminder(LeaseReminder) is { } reminder)
                {
                    await this.UnregisterReminder(reminder);
                }
            }
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            _reminderOn = !_reminderOn;
            LogReminderFailed(exception, _name);
        }
    }

    private void PruneDeduplication(DateTimeOffset now)
    {
        if (!_log.Meta.Created)
        {
            return;
        }

        var olderThan = (now - Options.DeduplicationWindow).UtcTicks;
        _dedup.Prune(olderThan);
        _log.PruneDedup(olderThan);
    }

    private void EnsureCreated()
    {
        if (!_log.Meta.Created)
        {
            QueueName.Validate(_name);
            throw new BrokerException(BrokerErrorCode.QueueNotFound, $"Queue '{_name}' does not exist; create it first.");
        }
    }

    private QueueInfo Info()
    {
        // Counted once stored: a message still being committed is neither in the depth nor in a peek.
        var live = _log.LandedCount;
        return new QueueInfo(_name, Options, live - _leases.Count, _leases.Count, _consumers.Count, _log.Meta.Counters, _log.Meta.CreatedAt, _delayed.Count, _log.LandedBytes,
            PublishesRefused: _diskAlarm.Reason);
    }

    private static string Describe(QueueOptions options) =>
        $"lease {options.LeaseDuration}, max attempts {options.MaxDeliveryAttempts}, dead-letter queue '{options.DeadLetterQueue ?? "(default)"}', retry {options.Retry}, " +
        $"ttl {options.DefaultTimeToLive?.ToString() ?? "none"}{(options.DeadLetterExpired ? " (dead-lettered)" : "")}, dedup window {options.DeduplicationWindow}, " +
        $"max length {options.MaxLength?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}, max bytes {options.MaxBytes?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"}, overflow {options.Overflow}, partitions {options.Partitions}";

    private void Count(Func<QueueCounters, QueueCounters> change) => _log.UpdateMeta(meta => meta.Counters = change(meta.Counters));

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: loading its log failed [correlation id {CorrelationId}]; the activation fails and is tried again with the next call")]
    private partial void LogLoadFailed(Exception exception, string queue, string correlationId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue} created: {Options}")]
    private partial void LogCreated(string queue, string options);

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue} deleted")]
    private partial void LogDeleted(string queue);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: final commit on deactivation failed; the latest counters are lost and deliveries still out are delivered again")]
    private partial void LogFinalCommitFailed(Exception exception, string queue);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: reminder update failed; retried on the next tick")]
    private partial void LogReminderFailed(Exception exception, string queue);
}
