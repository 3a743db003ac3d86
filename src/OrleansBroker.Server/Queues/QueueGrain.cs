using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using Orleans.Storage;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Server.Push;
using OrleansBroker.Server.Queues.Browsing;
using OrleansBroker.Server.Queues.Publishing;
using OrleansBroker.Server.Queues.Scheduling;
using OrleansBroker.Server.Storage;
using OrleansBroker.Server.Telemetry;

namespace OrleansBroker.Server.Queues;

/// <summary>
/// One durable queue, or one partition of a partitioned queue: the grain's lifecycle and its interfaces, turned into calls on
/// the queue's parts (<see cref="QueueCore"/>). Reentrant so that publishes and settles arriving while a log commit is in flight
/// join the next commit (group commit); all state changes happen between awaits, on the grain's single-threaded scheduler.
/// </summary>
[Reentrant]
[QueuePartitionPlacement]
internal sealed partial class QueueGrain : Grain, IQueueGrain, IQueuePartitionGrain, IDeadLetterTarget, IRemindable, IQueueHost, IIncomingGrainCallFilter
{
    private const string ReminderName = "leases";

    private readonly BrokerOptions _options;
    private readonly ILogger<QueueGrain> _logger;
    private readonly TimeProvider _time;
    private readonly IGrainStorage _storage;
    private readonly ISiloStatusOracle _silo;
    private readonly DiskSpaceAlarm _diskAlarm;
    private readonly BrokerMetrics _metrics;
    private readonly IPushDelivery? _push;
    private QueueCore _core = null!;
    private QueueAdmin _admin = null!;
    private DurableWakeUp _wakeUp = null!;
    private IGrainTimer? _wakeTimer;

    /// <summary>The periodic tick (<see cref="OnTickAsync"/>), run as often as <see cref="QueueCore.Pace"/> says.</summary>
    private readonly TickPacer _ticks;

    public QueueGrain(IServiceProvider services, IOptions<BrokerOptions> options, ILogger<QueueGrain> logger, TimeProvider time, ISiloStatusOracle silo, DiskSpaceAlarm diskAlarm,
        BrokerMetrics metrics)
    {
        _metrics = metrics;
        _silo = silo;
        _diskAlarm = diskAlarm;
        _options = options.Value;
        _logger = logger;
        _time = time;
        _storage = services.GetRequiredKeyedService<IGrainStorage>(BrokerOptions.StorageProviderName);
        _push = services.GetService<IPushDelivery>();
        _ticks = new TickPacer(_options.LeaseCheckInterval, _options.ConsumerRenewInterval, metrics);
    }

    private QueueState State => _core.State;

    private string Name => State.Name;

    IGrainFactory IQueueHost.Grains => GrainFactory;

    Task IQueueHost.StoreDeadLettersAsync(string queue, IReadOnlyList<BrokerMessage> letters) =>
        GrainFactory.GetGrain<IDeadLetterTarget>(queue).AcceptDeadLetters(letters);

    Task<IReadOnlyList<PublishReceipt>> IQueueHost.StoreRedrivenAsync(string queue, IReadOnlyList<BrokerMessage> messages) =>
        GrainFactory.GetGrain<IDeadLetterTarget>(queue).AcceptRedriven(messages);

    bool IQueueHost.SiloTerminating => _silo.CurrentStatus.IsTerminating();

    void IQueueHost.WakeIn(TimeSpan delay) => _wakeTimer?.Change(delay, Timeout.InfiniteTimeSpan);

    void IQueueHost.DeliveriesOut(DateTimeOffset now) => _wakeUp.EnsureOn(now);

    void IQueueHost.StepDown() => DeactivateOnIdle();

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _core = new QueueCore(this.GetPrimaryKeyString(), _storage, this.GetGrainId(), _options, _time, this, _logger, _metrics);
        _admin = new QueueAdmin(_core, GrainFactory.GetGrain<IQueueRegistryGrain>(IQueueRegistryGrain.Queues), Snapshot, _logger);
        _wakeUp = new DurableWakeUp(Name, _options.ReminderPeriod, () => _core.NeedsWakeUp,
            () => this.RegisterOrUpdateReminder(ReminderName, _options.ReminderPeriod, _options.ReminderPeriod), UnregisterReminderAsync, _logger);
        _wakeTimer = this.RegisterGrainTimer(_ => Wake(), new GrainTimerCreationOptions(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan) { Interleave = true });
        await _core.LoadAsync();
        _wakeUp.Start(await this.GetReminder(ReminderName, cancellationToken) is not null, _time.GetUtcNow());
        _ticks.Start(this.RegisterGrainTimer(OnTickAsync, new GrainTimerCreationOptions(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan) { Interleave = true }));
        StartPush();
    }

    /// <summary>Every call to the queue may give it work with a time to it (a delivery out, a message with a time to live): the tick runs again.</summary>
    Task IIncomingGrainCallFilter.Invoke(IIncomingGrainCallContext context)
    {
        _ticks.CallArrived();
        return context.Invoke();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _ticks.Stop();
        StopPush();
        _metrics.Remove(State.Name);
        _core.Dispatcher.EndReceives();
        await _core.DeadLetters.FinishAsync(cancellationToken);
        _core.Log.Stop();
        await _core.HandOff.HandOffAsync();

        // Deliveries still out need the reminder to bring the queue back: make sure it is registered.
        await _wakeUp.UpdateAsync(_time.GetUtcNow());

        // Nothing waits for a lazily persisted change (counters, the leases handed off) but it is not lost either.
        try
        {
            await _core.Log.CommitAsync();
        }
        catch (BrokerException exception)
        {
            LogFinalCommitFailed(exception, Name);
        }
    }

    public async Task<QueueInfo> Create(QueueOptions options)
    {
        CheckPush(options);
        var info = await _admin.CreateByUserAsync(options);
        StartPush();
        return WithPush(info);
    }

    public async Task<QueueInfo> CreateSubscriptionQueue(QueueOptions options)
    {
        CheckPush(options);
        var info = await _admin.CreateAsync(options);
        StartPush();
        return WithPush(info);
    }

    public Task CreatePartition(QueueOptions options) => _admin.CreatePartitionAsync(options);

    public Task CreateGrownPartition(QueueOptions options, int source) => _admin.CreateGrownAsync(options, source);

    public async Task<QueueInfo> GetInfo()
    {
        EnsureCreated();
        return WithPush(await _admin.InfoAsync());
    }

    public Task<PartitionSnapshot> GetPartitionInfo()
    {
        EnsureCreated();
        return Task.FromResult(Snapshot());
    }

    public Task<int> GetPartitions()
    {
        EnsureCreated();
        return Task.FromResult(_core.Partitions.Count);
    }

    public async Task<QueueInfo> GrowPartitions(int partitions)
    {
        EnsureCreated();
        _core.Partitions.RefuseAdmin("grow");
        await _core.Growth.GrowAsync(partitions);
        return await GetInfo();
    }

    public Task LearnPartitions(int partitions)
    {
        EnsureCreated();
        return _core.Growth.LearnAsync(partitions, null);
    }

    public Task<bool> HoldsMovedKeys(int partitions)
    {
        EnsureCreated();
        return Task.FromResult(_core.Growth.HoldsMovedKeys(partitions));
    }

    public Task<IReadOnlyList<PublishReceipt>> FindPublished(IReadOnlyList<string> ids)
    {
        EnsureCreated();
        ArgumentNullException.ThrowIfNull(ids);
        return _core.Publisher.FindPublishedAsync(ids);
    }

    public Task<QueueInfo> SetPush(PushEndpoint? push)
    {
        EnsureCreated();
        _core.Partitions.RefuseAdmin("change the push endpoint of");
        if (QueueName.IsSubscriptionQueue(Name) && !Name.EndsWith(QueueName.DeadLetterSuffix, StringComparison.Ordinal))
        {
            var slash = Name.IndexOf('/', StringComparison.Ordinal);
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Queue '{Name}' is a topic subscription's queue: change its push endpoint through topic '{Name[..slash]}', subscription '{Name[(slash + 1)..]}'.");
        }

        return ChangePush(push);
    }

    public async Task<QueueInfo> ChangePush(PushEndpoint? push)
    {
        EnsureCreated();
        var options = State.Options with { Push = push };
        CheckPush(options);
        await _admin.ChangeOptionsAsync(options, others => Task.WhenAll(others.Select(p => p.ChangePush(push))));
        if (push is null)
        {
            StopPush();
        }
        else
        {
            StartPush();
        }

        return WithPush(await _admin.InfoAsync());
    }

    public Task<long> Purge()
    {
        EnsureCreated();
        return _admin.PurgeAsync();
    }

    public Task Delete()
    {
        _core.Partitions.RefuseAdmin("delete");
        return DeletePartition();
    }

    public async Task DeletePartition()
    {
        EnsureCreated();
        StopPush();
        await _admin.DeleteAsync();
        await _wakeUp.RemoveAsync();
        DeactivateOnIdle();
    }

    public async Task<PublishReceipt> Publish(BrokerMessage message)
    {
        EnsureCreated();
        MessageValidator.Validate(message, _options.MaxMessageBytes);
        _diskAlarm.ThrowIfRaised();
        return (await StoreAsync([message], deduplicate: true))[0];
    }

    public Task<IReadOnlyList<PublishReceipt>> PublishBatch(IReadOnlyList<BrokerMessage> messages)
    {
        EnsureCreated();
        Publisher.ValidatePublish(messages, _options.MaxMessageBytes);
        _diskAlarm.ThrowIfRaised();
        return StoreAsync(messages, deduplicate: true);
    }

    public async Task AcceptDeadLetters(IReadOnlyList<BrokerMessage> messages)
    {
        if (!_core.Log.Meta.Created)
        {
            await _admin.CreateAsync(QueueOptions.ForDeadLetterQueue());
        }

        Publisher.ValidateBatch(messages);
        await _core.Publisher.AppendAsync(messages, deduplicate: false);
    }

    public Task<IReadOnlyList<PublishReceipt>> AcceptRedriven(IReadOnlyList<BrokerMessage> messages)
    {
        EnsureCreated();
        Publisher.ValidateBatch(messages);

        // Not deduplicated: the redriven message has the id of its first publish, which is likely still in the window.
        return StoreAsync(messages, deduplicate: false);
    }

    public Task<ConsumerRegistration> Subscribe(string consumerId, int prefetch, IConsumerObserver observer)
    {
        EnsureCreated();
        _core.Dispatcher.Register(consumerId, prefetch, observer);
        return Task.FromResult(new ConsumerRegistration(_options.ConsumerRenewInterval, _core.ConsumerTimeout, _core.Partitions.Count));
    }

    public Task Unsubscribe(string consumerId)
    {
        EnsureCreated();
        if (State.Consumers.TryGet(consumerId, out var consumer))
        {
            _core.Dispatcher.Remove(consumer, requeue: true);
            _core.Dispatcher.Dispatch();
        }

        return Task.CompletedTask;
    }

    public Task<IReadOnlyList<Delivery>> Receive(int maxMessages, TimeSpan maxWait, TimeSpan? leaseDuration, CancellationToken cancellationToken)
    {
        EnsureCreated();
        var lease = leaseDuration ?? State.Options.LeaseDuration;
        ReceiveLimits.Validate(maxMessages, maxWait, lease);
        return _core.Dispatcher.ReceiveAsync(maxMessages, maxWait, lease, cancellationToken);
    }

    public Task<IReadOnlyList<SettleStatus>> Settle(IReadOnlyList<Settlement> settlements)
    {
        EnsureCreated();
        return _core.Settlements.SettleAsync(settlements);
    }

    public Task<DateTimeOffset> ExtendLease(long sequence, long leaseToken, TimeSpan duration)
    {
        EnsureCreated();
        return _core.Settlements.ExtendAsync(sequence, leaseToken, duration);
    }

    public Task<IReadOnlyList<PeekedMessage>> Peek(long afterSequence, int max, CancellationToken cancellationToken)
    {
        EnsureCreated();
        return Browser.PeekAsync(State, afterSequence, max, cancellationToken);
    }

    public Task<RedriveResult> Redrive(RedriveRequest request, CancellationToken cancellationToken)
    {
        EnsureCreated();
        return _core.Redrive.RunAsync(request, cancellationToken);
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        // Being activated is the point: activation reloaded the log and made expired leases ready.
        return OnTickAsync(CancellationToken.None);
    }

    private Task OnTickAsync(CancellationToken cancellationToken)
    {
        var now = _time.GetUtcNow();
        _core.Tick(now);
        if (_core.Log.Meta.Created && _metrics.Observed)
        {
            _metrics.Update(State.Name, new QueueSnapshot(_core.Info(_diskAlarm.Reason), _core.HeadEnqueuedAt() is { } head ? Math.Max(0, (now - head).TotalSeconds) : null));
        }

        var reminder = _wakeUp.UpdateAsync(now);
        _ticks.Set(_wakeUp.Off ? _core.Pace : TickPace.Every);
        return reminder;
    }

    private Task Wake()
    {
        _core.Wake();
        return Task.CompletedTask;
    }

    /// <summary>Stores a publish (deduplicated) or a redrive (not): here when the queue has one partition, otherwise each message at its key's partition.</summary>
    private Task<IReadOnlyList<PublishReceipt>> StoreAsync(IReadOnlyList<BrokerMessage> messages, bool deduplicate) =>
        _core.Partitions.Count == 1 ? _core.Publisher.AppendAsync(messages, deduplicate) : _core.Partitions.PlaceAsync(messages, deduplicate, _core.Publisher.AppendAsync);

    private void EnsureCreated() => _admin.EnsureCreated();

    /// <summary>A push endpoint must be valid, and needs this silo's push delivery and a host it may push to.</summary>
    private void CheckPush(QueueOptions options)
    {
        if (options?.Push is not { } endpoint)
        {
            return;
        }

        endpoint.Validate(options.LeaseDuration);

        if (_push is null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, "Push delivery is not enabled on this silo: host it with AddBrokerPush or UseBrokerPush (silo-host has it).");
        }

        _push.CheckAllowed(endpoint);
    }

    /// <summary>The queue (partition 0 of a partitioned one) pushes from the silo it is active on.</summary>
    private void StartPush()
    {
        if (_push is not null && _core.Log.Meta.Created && State.Partition == 0 && State.Options.Push is not null)
        {
            _push.Start(Name, State.Options);
        }
    }

    private void StopPush()
    {
        if (State.Partition == 0)
        {
            _push?.Stop(Name);
        }
    }

    private QueueInfo WithPush(QueueInfo info) => State.Partition == 0 && State.Options.Push is not null ? info with { Push = _push?.Status(Name) } : info;

    private PartitionSnapshot Snapshot() => new(_core.Info(_diskAlarm.Reason), GrainContext.Address.SiloAddress!.ToString(), State.HeldForGrowth);

    private async Task UnregisterReminderAsync()
    {
        if (await this.GetReminder(ReminderName) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: final commit on deactivation failed; the latest counters are lost and deliveries still out are delivered again")]
    private partial void LogFinalCommitFailed(Exception exception, string queue);
}
