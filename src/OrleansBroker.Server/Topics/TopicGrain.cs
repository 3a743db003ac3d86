using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Server.Queues;
using OrleansBroker.Server.Storage;
using OrleansBroker.Server.Telemetry;
using OrleansBroker.Server.Topics.Replay;
using OrleansBroker.Server.Topics.Routing;
using OrleansBroker.Server.Topics.Transforms;
using OrleansBroker.Topics;

namespace OrleansBroker.Server.Topics;

/// <summary>
/// One topic: its subscription set (one small persisted record) and the routing of publishes to the
/// subscriptions' queues (<see cref="TopicRouter"/>). It stores no messages itself: a publish returns once every
/// matching subscription queue has committed the message, all subscriptions written to in parallel (<see cref="FanOut"/>).
/// Every copy carries the same message id, so a fan-out retried after a partial failure is absorbed by the queues'
/// deduplication. Replays of retained messages run in the background from a stored cursor (<see cref="TopicReplay"/>).
/// Reentrant: publishes only read the router, which a subscribe replaces as a whole once stored.
/// </summary>
[Reentrant]
[QueuePartitionPlacement]
internal sealed partial class TopicGrain(
    [PersistentState("topic", BrokerOptions.StateStorageProviderName)] IPersistentState<TopicState> persisted,
    IOptions<BrokerOptions> options,
    TransformRegistry transforms,
    ILogger<TopicGrain> logger,
    TimeProvider time,
    DiskSpaceAlarm diskAlarm,
    BrokerMetrics metrics) : Grain, ITopicGrain, ITopicPartitionGrain, IRemindable
{
    private const string ReplayReminder = "replays";

    /// <summary>How often changed counters and marks are stored: after a crash the counters may be behind by this much.</summary>
    private static readonly TimeSpan CounterFlushInterval = TimeSpan.FromSeconds(1);

    /// <summary>A replay keeps its topic active this long past each page, so it is not cut short for being idle.</summary>
    private static readonly TimeSpan ReplayKeepAlive = TimeSpan.FromMinutes(2);

    private readonly BrokerOptions _options = options.Value;
    private readonly TopicStateStore _store = new(persisted);
    private TopicRouter _router = null!;
    private TopicReplays _replays = null!;
    private TopicPartitionSet _partitions = null!;

    /// <summary>The topic's name (without a partition suffix): subscription queues, retention and messages use it.</summary>
    private string _name = "";

    /// <summary>This grain's partition of the topic (see <see cref="TopicOptions.Partitions"/>); 0 for the topic's own grain.</summary>
    private int _partition;

    private TopicState State => _store.State;

    private string RetainedQueue => TopicRouter.RetainedQueue(_name);

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        (_name, _partition) = QueuePartitions.Parse(this.GetPrimaryKeyString());
        _partitions = new TopicPartitionSet(GrainFactory, _name);
        Recompile();
        this.RegisterGrainTimer(FlushCountersAsync, new GrainTimerCreationOptions(CounterFlushInterval, CounterFlushInterval) { Interleave = true });
        _replays = new TopicReplays(_name, _store, GrainFactory, time, _options.MaxMessageBytes, ReplayReminderAsync, () => DelayDeactivation(ReplayKeepAlive), logger);
        if (_partition == 0)
        {
            _replays.Resume(_router);
        }

        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _replays.Stop();
        return FlushCountersAsync(cancellationToken);
    }

    public async Task<TopicInfo> Create(TopicOptions options)
    {
        TopicPartitionRules.RefuseAdmin(_name, _partition, "create");
        QueueName.Validate(_name);
        if (QueueName.IsSubscriptionQueue(_name))
        {
            throw new BrokerException(BrokerErrorCode.InvalidName, $"Topic name '{_name}' has a '/'; topic names follow the queue naming rules.");
        }

        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (State.Created && State.Options != options)
        {
            throw new BrokerException(BrokerErrorCode.QueueExistsWithOtherOptions,
                $"Topic '{_name}' exists with other options ({State.Options}); delete it first or create it with the same options.");
        }

        if (!State.Created)
        {
            if (options.Retains)
            {
                await GrainFactory.GetGrain<IDeadLetterTarget>(RetainedQueue).CreateSubscriptionQueue(options.RetentionQueue());
            }

            State.Created = true;
            State.CreatedAt = time.GetUtcNow();
            State.Options = options;
            await _store.WriteAsync();
            Recompile();
            LogCreated(_name);
        }

        // After this grain's write, so a partition never exists without its topic; creating again mends a failure in between.
        await _partitions.SyncAsync(State);
        await GrainFactory.GetGrain<IQueueRegistryGrain>(IQueueRegistryGrain.Topics).Add(_name);
        return await GetInfo();
    }

    public async Task<TopicInfo> Subscribe(Subscription subscription, DateTimeOffset? replayFrom)
    {
        EnsureAdmin("subscribe to");
        ArgumentNullException.ThrowIfNull(subscription);
        var queue = SubscriptionRules.Validate(_name, subscription, transforms);
        if (replayFrom is not null && !State.Options.Retains)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Topic '{_name}' retains no messages to replay; create it with RetentionTime or RetentionBytes.");
        }

        if (State.Subscriptions.TryGetValue(subscription.Name, out var existing))
        {
            if (existing != subscription)
            {
                throw new BrokerException(BrokerErrorCode.QueueExistsWithOtherOptions,
                    $"Subscription '{subscription.Name}' of topic '{_name}' exists with another filter or queue options; unsubscribe first or subscribe with the same.");
            }

            // Subscribing again mends a partition that missed it (its call failed after this grain stored the subscription).
            await _partitions.SyncAsync(State);
            return Info();
        }

        // The queue first: a subscription is only listed once it can hold messages (subscribing again mends a failure in between).
        await GrainFactory.GetGrain<IDeadLetterTarget>(queue).CreateSubscriptionQueue(subscription.Queue);
        State.Subscriptions[subscription.Name] = subscription;

        // Up to now only: later messages reach it live. Through its queue's deduplication, so a message that got
        // there live while the replay ran is not stored twice. Stored with the subscription, so it is never lost.
        var replay = replayFrom is { } since ? _replays.Add(subscription.Name, since, deduplicate: true) : null;
        await _store.WriteAsync();
        Recompile();

        // Every partition routes to it before this returns: a message published after the subscribe reaches it whichever partition takes it.
        await _partitions.SyncAsync(State);
        LogSubscribed(_name, subscription.Name);
        if (replay is not null)
        {
            await _replays.StartAsync(replay, _router);
        }

        return Info();
    }

    public async Task Seek(string subscription, DateTimeOffset to)
    {
        EnsureAdmin("seek on");
        if (!State.Options.Retains)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Topic '{_name}' retains no messages to seek in; create it with RetentionTime or RetentionBytes.");
        }

        var route = _router.Find(subscription)
            ?? throw new BrokerException(BrokerErrorCode.QueueNotFound, $"Topic '{_name}' has no subscription '{subscription}'.");

        // As Pub/Sub's seek: what was published before the time counts as acknowledged, what came after is delivered again.
        await Queue(route.Queue).Purge();
        var replay = _replays.Add(route.Subscription.Name, to, deduplicate: false);
        await _store.WriteAsync();
        await _replays.StartAsync(replay, _router);
    }

    public Task<TopicInfo> ChangeFilter(string subscription, SubscriptionFilter filter)
    {
        EnsureAdmin("change a subscription of");
        ArgumentNullException.ThrowIfNull(filter);
        filter.Validate();
        return ChangeSubscriptionAsync(subscription, existing => Task.FromResult(existing with { Filter = filter }));
    }

    public Task<TopicInfo> ChangePush(string subscription, PushEndpoint? push)
    {
        EnsureAdmin("change a subscription of");
        return ChangeSubscriptionAsync(subscription, async existing =>
        {
            // The queue first: it checks the endpoint, and the subscription lists only what its queue has.
            await GrainFactory.GetGrain<IQueuePartitionGrain>(existing.QueueName(_name)).ChangePush(push);
            return existing with { Queue = existing.Queue with { Push = push } };
        });
    }

    /// <summary>Replaces a subscription by what <paramref name="change"/> makes of it; an unknown one fails with <c>QueueNotFound</c>.</summary>
    private async Task<TopicInfo> ChangeSubscriptionAsync(string subscription, Func<Subscription, Task<Subscription>> change)
    {
        if (!State.Subscriptions.TryGetValue(subscription, out var existing))
        {
            throw new BrokerException(BrokerErrorCode.QueueNotFound, $"Topic '{_name}' has no subscription '{subscription}'.");
        }

        var changed = await change(existing);
        if (changed != existing)
        {
            State.Subscriptions[subscription] = changed;
            await _store.WriteAsync();
            Recompile();
        }

        // Also when unchanged: changing again mends a partition that missed the change.
        await _partitions.SyncAsync(State);
        return Info();
    }

    public async Task<TopicInfo> Unsubscribe(string subscription)
    {
        EnsureAdmin("unsubscribe from");
        if (!State.Subscriptions.Remove(subscription))
        {
            throw new BrokerException(BrokerErrorCode.QueueNotFound, $"Topic '{_name}' has no subscription '{subscription}'.");
        }

        State.Replays.Remove(subscription);
        await _store.WriteAsync();
        Recompile();
        await _partitions.SyncAsync(State);
        await DeleteQueueAsync($"{_name}/{subscription}");
        LogUnsubscribed(_name, subscription);
        return Info();
    }

    public async Task Delete()
    {
        EnsureAdmin("delete");

        await _partitions.DeleteOthersAsync(State.Options.Partitions);
        var queues = State.Subscriptions.Values.Select(s => s.QueueName(_name)).ToList();
        if (State.Options.Retains)
        {
            queues.Add(RetainedQueue);
        }

        await _store.ClearAsync();
        Recompile();
        await Task.WhenAll(queues.Select(DeleteQueueAsync));
        await GrainFactory.GetGrain<IQueueRegistryGrain>(IQueueRegistryGrain.Topics).Remove(_name);
        await ReplayReminderAsync();
        LogDeleted(_name);
        DeactivateOnIdle();
    }

    public async Task<TopicReceipt> Publish(BrokerMessage message) => (await PublishBatch([message]))[0];

    public async Task<IReadOnlyList<TopicReceipt>> PublishBatch(IReadOnlyList<BrokerMessage> messages)
    {
        EnsureCreated();
        if (messages is null || messages.Count == 0 || messages.Count > BrokerLimits.MaxBatchCount)
        {
            throw new BrokerException(BrokerErrorCode.InvalidBatch,
                $"A publish batch holds 1 to {BrokerLimits.MaxBatchCount} messages; this one holds {messages?.Count ?? 0}.");
        }

        TopicPartitionRules.RefuseKeysOfOthers(_name, _partition, State.Options.Partitions, messages);
        diskAlarm.ThrowIfRaised();
        var now = time.GetUtcNow();
        var plan = _router.Plan(messages, now, _options.MaxMessageBytes);
        var writes = plan.Copies.Select(p => (p.Key.Subscription.Name, (Func<Task>)(() => Queue(p.Key.Queue).PublishBatch(p.Value))))
            .Concat(plan.DeadLetters.Select(p => (p.Key.Subscription.Name + " (dead letters)", (Func<Task>)(() => DeadLetterTarget(p.Key).AcceptDeadLetters(p.Value)))))
            .ToList();
        if (plan.Retained is { } retained)
        {
            writes.Add((TopicOptions.RetainedSubscription, async () => MarkRetained(now, await Queue(RetainedQueue).PublishBatch(retained))));
        }

        await FanOut.RunAsync(_name, writes, time, (failed, attempt) => LogFanOutRetry(_name, failed, attempt));
        State.Published += messages.Count;
        State.Unrouted += plan.Unrouted;
        metrics.DeadLettered(DeadLetterCause.Transform, plan.DeadLetters.Sum(d => d.Value.Count));
        _store.Dirty = true;
        return plan.Receipts;
    }

    public async Task<TopicInfo> GetInfo()
    {
        EnsureCreated();
        if (_partition > 0 || State.Options.Partitions == 1)
        {
            return Info();
        }

        return await _partitions.SumAsync(Info(), State.Options.Partitions);
    }

    public Task<int> GetPartitions()
    {
        EnsureCreated();
        return Task.FromResult(State.Options.Partitions);
    }

    public async Task SyncPartition(TopicOptions options, IReadOnlyList<Subscription> subscriptions, DateTimeOffset createdAt)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(subscriptions);
        if (_partition == 0)
        {
            throw new BrokerException(BrokerErrorCode.InvalidName, $"'{_name}' is not a topic partition name.");
        }

        TopicPartitionSet.Take(State, options, subscriptions, createdAt);
        await _store.WriteAsync();
        Recompile();
    }

    public Task<TopicInfo> GetPartitionInfo()
    {
        EnsureCreated();
        return Task.FromResult(Info());
    }

    public async Task DeletePartition()
    {
        if (State.Created)
        {
            await _store.ClearAsync();
            Recompile();
            DeactivateOnIdle();
        }
    }

    public Task ReceiveReminder(string reminderName, TickStatus status)
    {
        // Activates the topic after a restart or move, so its replays go on; one that stopped on an error starts again. None left, it goes.
        if (State.Replays.Count == 0)
        {
            return ReplayReminderAsync();
        }

        _replays.Resume(_router);
        return Task.CompletedTask;
    }

    private IQueueGrain Queue(string name) => GrainFactory.GetGrain<IQueueGrain>(name);

    /// <summary>The dead-letter queue of a subscription with a transform (subscribe makes sure it has one).</summary>
    private IDeadLetterTarget DeadLetterTarget(Route route) =>
        GrainFactory.GetGrain<IDeadLetterTarget>(route.DeadLetterQueue!);

    private void MarkRetained(DateTimeOffset started, IReadOnlyList<PublishReceipt> receipts)
    {
        if (receipts.Count > 0 && RetainedMarks.Add(State.RetainedMarks, started, receipts.Min(r => r.Sequence), RetainedMarks.Spacing(State.Options)))
        {
            _store.Dirty = true;
        }
    }

    private void Recompile() => _router = new TopicRouter(_name, State.Options, State.Subscriptions.Values, transforms);

    private async Task DeleteQueueAsync(string queue)
    {
        try
        {
            await Queue(queue).Delete();
        }
        catch (BrokerException exception) when (exception.Code == BrokerErrorCode.QueueNotFound)
        {
            // Never created, or deleted already.
        }
    }

    private async Task FlushCountersAsync(CancellationToken cancellationToken)
    {
        try
        {
            await _store.FlushAsync(cancellationToken);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            LogCounterWriteFailed(exception, _name);
        }
    }

    /// <summary>A reminder while replays are stored, so that a restart or move does not leave them waiting for the next call.</summary>
    private async Task ReplayReminderAsync()
    {
        if (State.Replays.Count > 0)
        {
            await this.RegisterOrUpdateReminder(ReplayReminder, _options.ReminderPeriod, _options.ReminderPeriod);
        }
        else if (await this.GetReminder(ReplayReminder) is { } reminder)
        {
            await this.UnregisterReminder(reminder);
        }
    }

    /// <summary>An administrative call: the topic exists and this is partition 0 (<paramref name="what"/> names the call in the error).</summary>
    private void EnsureAdmin(string what)
    {
        EnsureCreated();
        TopicPartitionRules.RefuseAdmin(_name, _partition, what);
    }

    private void EnsureCreated()
    {
        if (!State.Created)
        {
            QueueName.Validate(_name);
            throw new BrokerException(BrokerErrorCode.TopicNotFound, $"Topic '{_name}' does not exist; create it first.");
        }
    }

    /// <summary>The topic as callers see it: a subscription's push secrets hidden.</summary>
    private TopicInfo Info() => new(_name, [.. _router.Routes.Select(r => r.Subscription with { Queue = r.Subscription.Queue.Redacted() })], State.Published, State.Unrouted, State.CreatedAt, State.Options);

    [LoggerMessage(Level = LogLevel.Information, Message = "Topic {Topic} created")]
    private partial void LogCreated(string topic);

    [LoggerMessage(Level = LogLevel.Information, Message = "Topic {Topic} deleted with its subscription queues")]
    private partial void LogDeleted(string topic);

    [LoggerMessage(Level = LogLevel.Information, Message = "Topic {Topic}: subscription {Subscription} added")]
    private partial void LogSubscribed(string topic, string subscription);

    [LoggerMessage(Level = LogLevel.Information, Message = "Topic {Topic}: subscription {Subscription} removed with its queue")]
    private partial void LogUnsubscribed(string topic, string subscription);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Topic {Topic}: {Failed} subscriptions did not take a publish; retrying (attempt {Attempt})")]
    private partial void LogFanOutRetry(string topic, int failed, int attempt);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Topic {Topic}: storing its counters failed; retried")]
    private partial void LogCounterWriteFailed(Exception exception, string topic);
}
