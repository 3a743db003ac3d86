using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Concurrency;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Server.Queues;
using OrleansBroker.Server.Storage;
using OrleansBroker.Server.Topics.Transforms;
using OrleansBroker.Topics;

namespace OrleansBroker.Server.Topics;

/// <summary>
/// One topic: its subscription set (one small persisted record) and the routing of publishes to the
/// subscriptions' queues. It stores no messages itself: a publish returns once every matching subscription
/// queue has committed the message, all subscriptions written to in parallel. Every copy carries the same
/// message id, so a fan-out retried after a partial failure is absorbed by the queues' deduplication.
/// Reentrant: publishes only read the subscription set, which a subscribe replaces as a whole once stored.
/// </summary>
[Reentrant]
[QueuePartitionPlacement]
internal sealed partial class TopicGrain(
    [PersistentState("topic", BrokerOptions.StateStorageProviderName)] IPersistentState<TopicState> state,
    IOptions<BrokerOptions> options,
    TransformRegistry transforms,
    ILogger<TopicGrain> logger,
    TimeProvider time,
    DiskSpaceAlarm diskAlarm) : Grain, ITopicGrain, ITopicPartitionGrain
{
    private const int FanOutAttempts = 3;
    private static readonly TimeSpan CounterFlushInterval = TimeSpan.FromSeconds(10);

    private readonly BrokerOptions _options = options.Value;
    private IReadOnlyList<Route> _routes = [];

    /// <summary>The retention queue as a route taking every message, when the topic retains.</summary>
    private Route? _retained;
    private bool _countersDirty;
    /// <summary>The topic's name (without a partition suffix): subscription queues, retention and messages use it.</summary>
    private string _name = "";

    /// <summary>This grain's partition of the topic (see <see cref="TopicOptions.Partitions"/>); 0 for the topic's own grain.</summary>
    private int _partition;

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        (_name, _partition) = QueuePartitions.Parse(this.GetPrimaryKeyString());
        _routes = Compile(state.State.Subscriptions.Values);
        this.RegisterGrainTimer(FlushCountersAsync, new GrainTimerCreationOptions(CounterFlushInterval, CounterFlushInterval) { Interleave = true });
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken) => FlushCountersAsync(cancellationToken);

    public async Task<TopicInfo> Create(TopicOptions options)
    {
        RefusePartitionAdmin("create");
        QueueName.Validate(_name);
        if (QueueName.IsSubscriptionQueue(_name))
        {
            throw new BrokerException(BrokerErrorCode.InvalidName, $"Topic name '{_name}' has a '/'; topic names follow the queue naming rules.");
        }

        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (state.State.Created && state.State.Options != options)
        {
            throw new BrokerException(BrokerErrorCode.QueueExistsWithOtherOptions,
                $"Topic '{_name}' exists with other options ({state.State.Options}); delete it first or create it with the same options.");
        }

        if (!state.State.Created)
        {
            if (options.Retains)
            {
                await GrainFactory.GetGrain<IDeadLetterTarget>(RetainedQueue).CreateSubscriptionQueue(options.RetentionQueue());
            }

            state.State.Created = true;
            state.State.CreatedAt = time.GetUtcNow();
            state.State.Options = options;
            await state.WriteStateAsync();
            _routes = Compile(state.State.Subscriptions.Values);
            LogCreated(_name);
        }

        // After this grain's write, so a partition never exists without its topic; creating again mends a failure in between.
        await SyncPartitionsAsync();
        await GrainFactory.GetGrain<IQueueRegistryGrain>(IQueueRegistryGrain.Topics).Add(_name);
        return await GetInfo();
    }

    public async Task<TopicInfo> Subscribe(Subscription subscription, DateTimeOffset? replayFrom)
    {
        EnsureCreated();
        RefusePartitionAdmin("subscribe to");
        ArgumentNullException.ThrowIfNull(subscription);
        var problem = QueueName.Explain(subscription.Name)
            ?? (QueueName.IsSubscriptionQueue(subscription.Name) ? $"Subscription name '{subscription.Name}' may not contain '/'." : null)
            ?? (subscription.Name == TopicOptions.RetainedSubscription ? $"Subscription name '{TopicOptions.RetainedSubscription}' is reserved for the topic's retained messages." : null);
        if (problem is not null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidName, problem);
        }

        if (subscription.Filter is null || subscription.Queue is null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, "A subscription needs a Filter (SubscriptionFilter.All for every message) and Queue options.");
        }

        subscription.Filter.Validate();
        var queue = subscription.QueueName(_name);
        subscription.Queue.Validate(queue);
        ValidateTransform(subscription, queue);
        if (replayFrom is not null && !state.State.Options.Retains)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Topic '{_name}' retains no messages to replay; create it with RetentionTime or RetentionBytes.");
        }

        if (state.State.Subscriptions.TryGetValue(subscription.Name, out var existing))
        {
            if (existing != subscription)
            {
                throw new BrokerException(BrokerErrorCode.QueueExistsWithOtherOptions,
                    $"Subscription '{subscription.Name}' of topic '{_name}' exists with another filter or queue options; unsubscribe first or subscribe with the same.");
            }

            // Subscribing again mends a partition that missed it (its call failed after this grain stored the subscription).
            await SyncPartitionsAsync();
            return Info();
        }

        // The queue first: a subscription is only listed once it can hold messages (subscribing again mends a failure in between).
        await GrainFactory.GetGrain<IDeadLetterTarget>(queue).CreateSubscriptionQueue(subscription.Queue);
        state.State.Subscriptions[subscription.Name] = subscription;
        await state.WriteStateAsync();
        _routes = Compile(state.State.Subscriptions.Values);

        // Every partition routes to it before this returns: a message published after the subscribe reaches it whichever partition takes it.
        await SyncPartitionsAsync();
        LogSubscribed(_name, subscription.Name);
        if (replayFrom is { } since)
        {
            // Up to now only: later messages reach it live. Through its queue's deduplication, so a message that got
            // there live while the replay ran is not stored twice.
            StartReplay(_routes.Single(r => r.Subscription.Name == subscription.Name), since, time.GetUtcNow(), deduplicate: true);
        }

        return Info();
    }

    public async Task Seek(string subscription, DateTimeOffset to)
    {
        EnsureCreated();
        RefusePartitionAdmin("seek on");
        if (!state.State.Options.Retains)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Topic '{_name}' retains no messages to seek in; create it with RetentionTime or RetentionBytes.");
        }

        var route = _routes.FirstOrDefault(r => r.Subscription.Name == subscription)
            ?? throw new BrokerException(BrokerErrorCode.QueueNotFound, $"Topic '{_name}' has no subscription '{subscription}'.");

        // As Pub/Sub's seek: what was published before the time counts as acknowledged, what came after is delivered again.
        await route.Queue.Purge();
        StartReplay(route, to, time.GetUtcNow(), deduplicate: false);
    }

    private string RetainedQueue => $"{_name}/{TopicOptions.RetainedSubscription}";

    /// <summary>The dead-letter queue of a subscription with a transform (subscribe makes sure it has one).</summary>
    private IDeadLetterTarget DeadLetterTarget(Route route) =>
        GrainFactory.GetGrain<IDeadLetterTarget>(route.Subscription.Queue.ResolveDeadLetterQueue(route.Subscription.QueueName(_name))!);

    private void StartReplay(Route route, DateTimeOffset since, DateTimeOffset until, bool deduplicate) => _ = ReplayAsync(route, since, until, deduplicate);

    /// <summary>
    /// Pages through the retained messages (oldest first) and hands those published in [since, until] that the
    /// subscription's filter takes to its queue, transformed; runs in the background, interleaved with publishes.
    /// </summary>
    private async Task ReplayAsync(Route route, DateTimeOffset since, DateTimeOffset until, bool deduplicate)
    {
        var retained = GrainFactory.GetGrain<IQueueGrain>(RetainedQueue);
        var target = GrainFactory.GetGrain<IDeadLetterTarget>(route.Subscription.QueueName(_name));
        long after = 0, replayed = 0;
        try
        {
            while (true)
            {
                var page = await retained.Peek(after, BrokerLimits.MaxBatchCount);
                if (page.Count == 0)
                {
                    break;
                }

                after = page[^1].Sequence;
                var batch = new List<BrokerMessage>();
                var dead = new List<BrokerMessage>();
                foreach (var kept in page)
                {
                    if (kept.EnqueuedAt < since || kept.EnqueuedAt > until)
                    {
                        continue;
                    }

                    var message = new BrokerMessage(kept.MessageId, kept.Body, kept.ContentType, kept.Headers, kept.RoutingKey, Priority: kept.Priority, OrderingKey: kept.OrderingKey);
                    if (route.Matches(message))
                    {
                        (route.TryTransform(message, _name, time.GetUtcNow(), _options.MaxMessageBytes, out var routed) ? batch : dead).Add(routed);
                    }
                }

                if (batch.Count > 0)
                {
                    await (deduplicate ? route.Queue.PublishBatch(batch) : target.AcceptRedriven(batch));
                    replayed += batch.Count;
                }

                if (dead.Count > 0)
                {
                    await DeadLetterTarget(route).AcceptDeadLetters(dead);
                }
            }

            LogReplayed(_name, route.Subscription.Name, replayed, since);
        }
        catch (Exception exception)
        {
            // Seek or subscribe again to replay the rest (the queue deduplicates or, after a seek's purge, starts over).
            LogReplayFailed(exception, _name, route.Subscription.Name, replayed);
        }
    }

    private void ValidateTransform(Subscription subscription, string queue)
    {
        if (subscription.Transform is not { } spec)
        {
            return;
        }

        if (string.IsNullOrEmpty(spec.Name) || !transforms.TryGet(spec.Name, out var transform))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Unknown transform '{spec.Name}'; this silo has {string.Join(", ", transforms.Names)} (register others with AddBrokerTransform<T>() on every silo).");
        }

        try
        {
            transform.Validate(spec.Settings ?? new Dictionary<string, string>());
        }
        catch (ArgumentException exception)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Subscription '{subscription.Name}': {exception.Message}.");
        }

        if (subscription.Queue.ResolveDeadLetterQueue(queue) is null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Subscription '{subscription.Name}' has a transform but no dead-letter queue: messages the transform fails on would have nowhere to go.");
        }
    }

    public async Task<TopicInfo> Unsubscribe(string subscription)
    {
        EnsureCreated();
        RefusePartitionAdmin("unsubscribe from");
        if (!state.State.Subscriptions.Remove(subscription))
        {
            throw new BrokerException(BrokerErrorCode.QueueNotFound, $"Topic '{_name}' has no subscription '{subscription}'.");
        }

        await state.WriteStateAsync();
        _routes = Compile(state.State.Subscriptions.Values);
        await SyncPartitionsAsync();
        await DeleteQueueAsync($"{_name}/{subscription}");
        LogUnsubscribed(_name, subscription);
        return Info();
    }

    public async Task Delete()
    {
        EnsureCreated();
        RefusePartitionAdmin("delete");

        // The other partitions first: a failure part-way leaves partition 0, which can delete again.
        await Task.WhenAll(OtherPartitions().Select(p => p.DeletePartition()));
        var queues = state.State.Subscriptions.Values.Select(s => s.QueueName(_name)).ToList();
        if (state.State.Options.Retains)
        {
            queues.Add(RetainedQueue);
        }

        await state.ClearStateAsync();
        state.State = new TopicState();
        _routes = Compile([]);
        await Task.WhenAll(queues.Select(DeleteQueueAsync));
        await GrainFactory.GetGrain<IQueueRegistryGrain>(IQueueRegistryGrain.Topics).Remove(_name);
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

        RefuseKeysOfOtherPartitions(messages);
        diskAlarm.ThrowIfRaised();
        var routes = _routes;
        var now = time.GetUtcNow();
        var receipts = new TopicReceipt[messages.Count];
        var perRoute = new Dictionary<Route, List<BrokerMessage>>();
        var rejected = new Dictionary<Route, List<BrokerMessage>>();
        long unrouted = 0;
        for (var i = 0; i < messages.Count; i++)
        {
            MessageValidator.Validate(messages[i], _options.MaxMessageBytes);

            // One id for every copy: what makes a retried fan-out idempotent in each subscription.
            var message = messages[i].Id is null ? messages[i] with { Id = Guid.CreateVersion7().ToString("N") } : messages[i];
            var matched = new List<string>();
            List<string>? deadLettered = null;
            foreach (var route in routes)
            {
                if (!route.Matches(message))
                {
                    continue;
                }

                matched.Add(route.Subscription.Name);
                if (route.TryTransform(message, _name, now, _options.MaxMessageBytes, out var routed))
                {
                    Add(perRoute, route, routed);
                }
                else
                {
                    (deadLettered ??= []).Add(route.Subscription.Name);
                    Add(rejected, route, routed);
                }
            }

            unrouted += matched.Count == 0 ? 1 : 0;
            receipts[i] = new TopicReceipt(message.Id!, matched, deadLettered);
        }

        if (_retained is not null)
        {
            // The retained copy expires by the topic's retention, not by the message's own time to live or schedule.
            perRoute[_retained] = [.. messages.Select((m, i) => m with { Id = receipts[i].MessageId, TimeToLive = null, DeliverAt = null, Delay = null })];
        }

        var calls = perRoute.Select(p => (p.Key.Subscription.Name, (Func<Task>)(() => p.Key.Queue.PublishBatch(p.Value))))
            .Concat(rejected.Select(p => (p.Key.Subscription.Name + " (dead letters)", (Func<Task>)(() =>
                DeadLetterTarget(p.Key).AcceptDeadLetters(p.Value)))))
            .ToList();
        await FanOutAsync(calls);
        state.State.Published += messages.Count;
        state.State.Unrouted += unrouted;
        _countersDirty = true;
        return receipts;
    }

    private static void Add(Dictionary<Route, List<BrokerMessage>> byRoute, Route route, BrokerMessage message)
    {
        if (!byRoute.TryGetValue(route, out var list))
        {
            byRoute[route] = list = [];
        }

        list.Add(message);
    }

    /// <summary>
    /// Writes each subscription's share in parallel; what failed for a passing reason is tried again (the queues
    /// deduplicate what did land), up to <see cref="FanOutAttempts"/> times, then the publish fails naming how far it got.
    /// </summary>
    private async Task FanOutAsync(List<(string Target, Func<Task> Write)> writes)
    {
        var pending = writes;
        for (var attempt = 1; ; attempt++)
        {
            var calls = pending.Select(p => (Route: p, Call: p.Write())).ToList();
            try
            {
                await Task.WhenAll(calls.Select(c => c.Call));
                return;
            }
            catch (Exception)
            {
                // Looked at one by one below.
            }

            var failed = calls.Where(c => !c.Call.IsCompletedSuccessfully).ToList();
            var final = failed.Select(c => c.Call.Exception?.GetBaseException()).OfType<BrokerException>()
                .FirstOrDefault(e => e.Code != BrokerErrorCode.StorageUnavailable);
            if (final is not null || attempt == FanOutAttempts)
            {
                var stored = writes.Count - failed.Count;
                var first = failed[0].Call.Exception!.GetBaseException();
                var names = string.Join(", ", failed.Select(f => f.Route.Target));
                throw new BrokerException(final?.Code ?? BrokerErrorCode.StorageUnavailable,
                    $"Topic '{_name}': stored in {stored} of {writes.Count} matching subscriptions; not in {names}: {first.Message} " +
                    "Publishing again with the same message id does not duplicate it where it is stored.", (first as BrokerException)?.CorrelationId);
            }

            LogFanOutRetry(_name, failed.Count, attempt);
            await Task.Delay(TimeSpan.FromMilliseconds(100 * attempt));
            pending = failed.Select(f => f.Route).ToList();
        }
    }

    public async Task<TopicInfo> GetInfo()
    {
        EnsureCreated();
        if (_partition > 0 || state.State.Options.Partitions == 1)
        {
            return Info();
        }

        // The counters summed over the partitions; the subscriptions are the same in every one.
        var others = await Task.WhenAll(OtherPartitions().Select(p => p.GetPartitionInfo()));
        return Info() with { Published = state.State.Published + others.Sum(o => o.Published), Unrouted = state.State.Unrouted + others.Sum(o => o.Unrouted) };
    }

    public Task<int> GetPartitions()
    {
        EnsureCreated();
        return Task.FromResult(state.State.Options.Partitions);
    }

    public async Task SyncPartition(TopicOptions options, IReadOnlyList<Subscription> subscriptions, DateTimeOffset createdAt)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(subscriptions);
        if (_partition == 0)
        {
            throw new BrokerException(BrokerErrorCode.InvalidName, $"'{_name}' is not a topic partition name.");
        }

        state.State.Created = true;
        state.State.CreatedAt = createdAt;
        state.State.Options = options;
        state.State.Subscriptions = subscriptions.ToDictionary(s => s.Name, StringComparer.Ordinal);
        await state.WriteStateAsync();
        _routes = Compile(state.State.Subscriptions.Values);
    }

    public Task<TopicInfo> GetPartitionInfo()
    {
        EnsureCreated();
        return Task.FromResult(Info());
    }

    public async Task DeletePartition()
    {
        if (!state.State.Created)
        {
            return;
        }

        await state.ClearStateAsync();
        state.State = new TopicState();
        _routes = Compile([]);
        DeactivateOnIdle();
    }

    private IEnumerable<ITopicPartitionGrain> OtherPartitions() =>
        Enumerable.Range(1, state.State.Options.Partitions - 1).Select(i => GrainFactory.GetGrain<ITopicPartitionGrain>(QueuePartitions.NameOf(_name, i)));

    /// <summary>On partition 0: gives every other partition the topic's options and subscriptions, stored before this returns.</summary>
    private Task SyncPartitionsAsync()
    {
        var subscriptions = state.State.Subscriptions.Values.ToList();
        return Task.WhenAll(OtherPartitions().Select(p => p.SyncPartition(state.State.Options, subscriptions, state.State.CreatedAt)));
    }

    private void RefusePartitionAdmin(string action)
    {
        if (_partition > 0)
        {
            throw new BrokerException(BrokerErrorCode.InvalidName,
                $"'{QueuePartitions.NameOf(_name, _partition)}' is partition {_partition} of topic '{_name}'; {action} '{_name}', which does it for every partition.");
        }
    }

    /// <summary>
    /// A partition other than 0 takes only the keys that are its own, so that a key's messages all pass through one grain in order;
    /// a client with a stale count is refused (nothing routed) and places them again. Partition 0 takes whatever reaches it.
    /// </summary>
    private void RefuseKeysOfOtherPartitions(IReadOnlyList<BrokerMessage> messages)
    {
        if (_partition == 0)
        {
            return;
        }

        var count = state.State.Options.Partitions;
        foreach (var message in messages)
        {
            if (QueuePartitions.KeyOf(message) is { } key && QueuePartitions.Of(key, count) is var owner && owner != _partition)
            {
                throw new BrokerException(BrokerErrorCode.WrongPartition,
                    $"Message key '{key}' belongs to partition {owner} of topic '{_name}' ({count} partitions), not to partition {_partition}; nothing of this publish was routed.");
            }
        }
    }

    private async Task DeleteQueueAsync(string queue)
    {
        try
        {
            await GrainFactory.GetGrain<IQueueGrain>(queue).Delete();
        }
        catch (BrokerException exception) when (exception.Code == BrokerErrorCode.QueueNotFound)
        {
            // Never created, or deleted already.
        }
    }

    private async Task FlushCountersAsync(CancellationToken cancellationToken)
    {
        if (_countersDirty && state.State.Created)
        {
            _countersDirty = false;
            try
            {
                await state.WriteStateAsync(cancellationToken);
            }
            catch (Exception exception) when (exception is not OperationCanceledException)
            {
                _countersDirty = true;
                LogCounterWriteFailed(exception, _name);
            }
        }
    }

    private IReadOnlyList<Route> Compile(IEnumerable<Subscription> subscriptions)
    {
        _retained = state.State.Options.Retains
            ? new Route(new Subscription(TopicOptions.RetainedSubscription, SubscriptionFilter.All, state.State.Options.RetentionQueue()), GrainFactory.GetGrain<IQueueGrain>(RetainedQueue), null)
            : null;
        return [.. subscriptions.OrderBy(s => s.Name, StringComparer.Ordinal).Select(s => new Route(s, GrainFactory.GetGrain<IQueueGrain>(s.QueueName(_name)),
            s.Transform is { } spec && transforms.TryGet(spec.Name, out var transform) ? transform : null))];
    }

    private void EnsureCreated()
    {
        if (!state.State.Created)
        {
            QueueName.Validate(_name);
            throw new BrokerException(BrokerErrorCode.TopicNotFound, $"Topic '{_name}' does not exist; create it first.");
        }
    }

    private TopicInfo Info() => new(_name, [.. _routes.Select(r => r.Subscription)], state.State.Published, state.State.Unrouted, state.State.CreatedAt, state.State.Options);

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

    [LoggerMessage(Level = LogLevel.Information, Message = "Topic {Topic}: replayed {Count} retained messages since {Since} to subscription {Subscription}")]
    private partial void LogReplayed(string topic, string subscription, long count, DateTimeOffset since);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Topic {Topic}: replay to subscription {Subscription} stopped after {Count} messages")]
    private partial void LogReplayFailed(Exception exception, string topic, string subscription, long count);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Topic {Topic}: storing its counters failed; retried")]
    private partial void LogCounterWriteFailed(Exception exception, string topic);

    /// <summary>A subscription compiled for routing: its patterns parsed once, its queue's reference and transform held.</summary>
    private sealed class Route(Subscription subscription, IQueueGrain queue, IMessageTransform? transform)
    {
        private readonly IReadOnlyDictionary<string, string> _settings = subscription.Transform?.Settings ?? new Dictionary<string, string>();

        private readonly RoutingPattern[]? _patterns = subscription.Filter.RoutingKeys is { Count: > 0 } keys ? [.. keys.Select(RoutingPattern.Compile)] : null;

        public Subscription Subscription { get; } = subscription;

        public IQueueGrain Queue { get; } = queue;

        /// <summary>
        /// The message as this subscription holds it: transformed (and checked against the limits), or, when the
        /// transform fails, a dead letter for the subscription's dead-letter queue (false).
        /// </summary>
        public bool TryTransform(BrokerMessage message, string topic, DateTimeOffset now, int maxBodyBytes, out BrokerMessage routed)
        {
            routed = message;
            if (Subscription.Transform is not { } spec)
            {
                return true;
            }

            try
            {
                // A transform missing here (registered on another silo only) is a failure like any other: the message is kept, in the DLQ.
                var transformed = (transform ?? throw new InvalidOperationException($"no transform '{spec.Name}' is registered on this silo"))
                    .Apply(message, new TransformContext(topic, Subscription.Name, _settings, now));
                MessageValidator.Validate(transformed with { Id = message.Id }, maxBodyBytes);
                routed = transformed with { Id = message.Id };
                return true;
            }
            catch (Exception exception)
            {
                // Held as it came, without schedule or time to live: a dead letter waits for a person, not a clock.
                var headers = DeadLetterHeaders.With(message.Headers, $"transform '{spec.Name}' failed: {exception.Message}", Subscription.QueueName(topic), 0, now);
                routed = message with { Headers = headers, DeliverAt = null, Delay = null, TimeToLive = null };
                return false;
            }
        }

        public bool Matches(BrokerMessage message)
        {
            if (_patterns is not null && !_patterns.Any(p => p.Matches(message.RoutingKey)))
            {
                return false;
            }

            if (Subscription.Filter.Headers is { } predicates)
            {
                foreach (var predicate in predicates)
                {
                    if (!predicate.Matches(message.Headers))
                    {
                        return false;
                    }
                }
            }

            return true;
        }
    }
}

/// <summary>Persisted state of <see cref="TopicGrain"/>: small, its size independent of traffic.</summary>
[GenerateSerializer, Alias("ob.topic-state")]
internal sealed class TopicState
{
    [Id(0)] public bool Created { get; set; }

    [Id(1)] public DateTimeOffset CreatedAt { get; set; }

    [Id(2)] public Dictionary<string, Subscription> Subscriptions { get; set; } = new(StringComparer.Ordinal);

    [Id(3)] public long Published { get; set; }

    [Id(4)] public long Unrouted { get; set; }

    [Id(5)] public TopicOptions Options { get; set; } = new();
}
