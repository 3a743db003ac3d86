using Microsoft.Extensions.Logging;
using Orleans.Storage;
using OrleansBroker.Queues;
using OrleansBroker.Server.Errors;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Server.Log;
using OrleansBroker.Server.Queues.DeadLetters;
using OrleansBroker.Server.Queues.Dispatch;
using OrleansBroker.Server.Queues.Leases;
using OrleansBroker.Server.Queues.Limits;
using OrleansBroker.Server.Queues.Partitions;
using OrleansBroker.Server.Queues.Publishing;
using OrleansBroker.Server.Queues.Scheduling;
using OrleansBroker.Server.Telemetry;

namespace OrleansBroker.Server.Queues;

/// <summary>
/// One queue (partition) without the grain around it: its log, its in-memory state and the parts that decide, wired together.
/// The grain (<see cref="QueueGrain"/>) turns calls and timers into calls here; what this needs of the cluster it asks of its
/// <see cref="IQueueHost"/>. Plain, single-threaded code: every change happens between awaits on the grain's scheduler, and
/// a test can run it on a <see cref="TimeProvider"/> of its own, with no silo.
/// </summary>
internal sealed partial class QueueCore : IMessageLogListener
{
    /// <summary>
    /// Most new messages a commit may hold for their first attempts to be stored with them. A commit of a few is a queue
    /// at a modest rate, where the commit of the attempts is a large part of each message's wait; a larger one is a queue
    /// under load, whose deliveries go with the next commit as before (measured: counting ahead there cost single
    /// publishes about a tenth of their rate).
    /// </summary>
    private const int LoneCommitMessages = 8;

    private readonly BrokerOptions _options;
    private readonly IQueueHost _host;
    private readonly ILogger _logger;
    private readonly TimeToLive _timeToLive;
    private readonly LengthLimit _limit;
    private readonly Retries _retries;

    public QueueCore(string name, IGrainStorage storage, GrainId grainId, BrokerOptions options, TimeProvider time, IQueueHost host, ILogger logger,
        BrokerMetrics? metrics = null)
    {
        _options = options;
        _host = host;
        _logger = logger;
        var log = new MessageLog(storage, grainId, new MessageLogOptions(options.SegmentMaxBytes, options.SegmentMaxMessages, options.ResidentBytesPerQueue, options.CommitLinger), logger, this);
        State = new QueueState(name, log, time) { Metrics = metrics ?? BrokerMetrics.Unobserved };
        DeadLetters = new DeadLetterOutbox(State, host.StoreDeadLettersAsync, logger);
        _timeToLive = new TimeToLive(State, DeadLetters);
        _limit = new LengthLimit(State, DeadLetters);
        _retries = new Retries(State, _timeToLive, DeadLetters, host.WakeIn);
        Dispatcher = new Dispatcher(State, _timeToLive, _retries, host.DeliveriesOut, () => host.SiloTerminating, logger);
        HandOff = new LeaseHandOff(State, Dispatcher, _retries, ConsumerTimeout, logger);
        Settlements = new Settlements(State, Dispatcher, _retries, DeadLetters, HandOff);
        Partitions = new PartitionSet(State, () => host.Grains);
        Publisher = new Publisher(State, _limit, () => Partitions.Partition(Log.Meta.GrownFrom));
        Growth = new PartitionGrowth(State, Partitions, () => Publisher.LastAppend, Dispatcher.Dispatch, logger);
        Redrive = new Redrive(State, host.StoreRedrivenAsync, Dispatcher.Dispatch, logger);
    }

    public QueueState State { get; }

    public MessageLog Log => State.Log;

    public DeadLetterOutbox DeadLetters { get; }

    public Dispatcher Dispatcher { get; }

    public LeaseHandOff HandOff { get; }

    public Settlements Settlements { get; }

    public PartitionSet Partitions { get; }

    public Publisher Publisher { get; }

    public PartitionGrowth Growth { get; }

    public Redrive Redrive { get; }

    /// <summary>How long a consumer's registration lasts without renewal: three renew intervals.</summary>
    public TimeSpan ConsumerTimeout => _options.ConsumerRenewInterval * 3;

    /// <summary>Whether anything needs the durable wake-up: deliveries out, dead letters to move, messages waiting for a time, a push endpoint to serve.</summary>
    public bool NeedsWakeUp => State.Leases.Count > 0 || DeadLetters.Count > 0 || State.Delayed.Count > 0 || (Log.Meta.Created && State.Options.Push is not null);

    /// <summary>
    /// How often the periodic tick (<see cref="Tick"/>) must run now. <see cref="TickPace.Every"/> while anything in hand ends
    /// or moves with time: deliveries or handed-off leases out, waiting receives, messages with a time to live or waiting for a
    /// retry or schedule, dead letters to move, a commit to write, recovery or growth under way, a push endpoint, ready
    /// messages beside consumers. <see cref="TickPace.Slow"/> while only registered consumers remain (to drop the ones that
    /// stop renewing). Otherwise <see cref="TickPace.None"/>: nothing here changes until the next call, which starts the
    /// tick again (deduplication ids past their window are pruned then, or go with the activation).
    /// </summary>
    public TickPace Pace
    {
        get
        {
            if (NeedsWakeUp || HandOff.AnyPending || HandOff.OrphansWaiting || Dispatcher.HasWaitingReceives || _timeToLive.Watching
                || Log.HasPendingWork || !Log.Recovery.IsCompleted || State.HeldForGrowth || (State.Consumers.Count > 0 && State.Ready.Count > 0))
            {
                return TickPace.Every;
            }

            return State.Consumers.Count > 0 ? TickPace.Slow : TickPace.None;
        }
    }

    /// <summary>
    /// Loads the log and makes its first messages deliverable; recovery reads the rest in the background. A storage failure fails
    /// the activation, and Orleans sends that error to the caller as it is, past the error boundary that guards calls: it is made
    /// readable by every client here.
    /// </summary>
    public async Task LoadAsync()
    {
        IReadOnlyList<LogEntry> first;
        try
        {
            first = await Log.LoadAsync();
        }
        catch (Exception exception) when (!ClientSafeErrors.IsReadableByEveryClient(exception))
        {
            var correlationId = ClientSafeErrors.NewCorrelationId();
            LogLoadFailed(_logger, exception, State.Name, correlationId);
            throw ClientSafeErrors.FromStorage(exception, $"load queue '{State.Name}'", correlationId);
        }

        HandOff.Take();
        Publisher.Dedup.Load(Log.RecoveredDedupMarks);
        Log.RecoveredDedupMarks.Clear();
        OnRecovered(first);
        _ = ReleaseGroupsAfterRecoveryAsync();
    }

    /// <summary>The periodic tick: ends what is over (leases, consumers, waits, time to live, dedup window) and delivers.</summary>
    public void Tick(DateTimeOffset now)
    {
        Dispatcher.ExpireLeases(now);
        Dispatcher.ExpireConsumers(now, ConsumerTimeout);
        HandOff.EndOrphaned(now);
        _retries.PromoteDue(now);
        _timeToLive.ExpireDue(now);
        PruneDeduplication(now);
        Growth.AskSource(now);
        Log.FlushInBackground();
        DeadLetters.EnsureMoving();
        Dispatcher.Dispatch();
    }

    /// <summary>The wake timer: what waited for its time is ready.</summary>
    public void Wake()
    {
        _retries.PromoteDue(State.Time.GetUtcNow());
        Dispatcher.Dispatch();
    }

    /// <summary>Settles every message of this partition that is not out for delivery or on its way out; returns how many.</summary>
    public async Task<long> PurgeAsync()
    {
        // Every message is purged, also those recovery has not read yet.
        await Log.Recovery;
        long purged = 0;
        foreach (var sequence in State.Ready.TakeAll(State.Leases.IsLeased).Concat(State.Delayed.TakeAll()))
        {
            // What is in flight stays: its consumer settles it.
            if (State.IsIdle(sequence) && Log.Settle(sequence))
            {
                purged++;
            }
        }

        State.Count(c => c with { Purged = c.Purged + purged });
        await Log.CommitAsync();
        return purged;
    }

    /// <summary>Drops every consumer and everything in memory, and deletes the log.</summary>
    public async Task DeleteAsync()
    {
        Dispatcher.EndReceives();
        foreach (var consumer in State.Consumers.All.ToList())
        {
            Dispatcher.Remove(consumer, requeue: false);
        }

        State.Ready.Clear();
        State.Delayed.Clear();
        _timeToLive.Clear();
        Publisher.Dedup.Clear();
        State.Leases.Clear();
        Settlements.Clear();
        DeadLetters.Clear();
        await Log.DeleteAllAsync();
    }

    /// <summary>This partition's figures. Counted once stored: a message still being committed is neither in the depth nor in a peek.</summary>
    public QueueInfo Info(string? publishesRefused)
    {
        var leased = State.Leases.Count;
        return new QueueInfo(State.Name, State.Options.Redacted(), Log.LandedCount - leased, leased, State.Consumers.Count, Log.Meta.Counters, Log.Meta.CreatedAt,
            State.Delayed.Count, Log.LandedBytes, PublishesRefused: publishesRefused);
    }

    /// <summary>
    /// When the message first in delivery order was enqueued (the oldest ready one, at the highest priority waiting), or null
    /// when none is ready or its body is not in memory (paged out, or recovery has not read it yet).
    /// </summary>
    public DateTimeOffset? HeadEnqueuedAt() =>
        State.Ready.TryPeek(out var sequence) && State.Idle(sequence) is { } entry && Log.TryGetMessage(entry, out var message) ? message.EnqueuedAt : null;

    /// <summary>A commit is durable: the new messages become deliverable (or wait for their time), in sequence order.</summary>
    void IMessageLogListener.OnCommitted(IReadOnlyList<LogEntry> entries)
    {
        var now = State.Time.GetUtcNow().UtcTicks;
        foreach (var entry in entries)
        {
            _timeToLive.Watch(entry);
            _retries.Admit(entry, now);
        }

        _limit.Enforce();
        Dispatcher.Dispatch();
    }

    /// <summary>
    /// New messages that the dispatch after their commit hands out at once: in a commit of a few, with nothing ready before
    /// them, as many as the waiting receives and the consumers have room for, up to the first that waits (a delay) or
    /// joins a group's line.
    /// </summary>
    int IMessageLogListener.DeliverableOnLanding(IReadOnlyList<StoredMessage> messages)
    {
        if (State.Ready.Count > 0 || State.Ready.Recovering)
        {
            return 0;
        }

        if (messages.Count > LoneCommitMessages)
        {
            return 0;
        }

        var room = Dispatcher.FreeCredit();
        var count = 0;
        while (count < messages.Count && count < room && messages[count] is { NotBefore: 0, OrderingKey: null })
        {
            count++;
        }

        return count;
    }

    /// <summary>Older messages read back by recovery: ready again (their leases ended with the previous activation), or dead-lettered if out of attempts.</summary>
    public void OnRecovered(IReadOnlyList<LogEntry> entries)
    {
        if (entries.Count > 0)
        {
            // Recovery reads in sequence order: every live message up to here has been read.
            State.Ready.RecoveredThrough = Math.Max(State.Ready.RecoveredThrough, entries[^1].Sequence);
        }

        foreach (var entry in entries)
        {
            _timeToLive.Watch(entry);
            if (!HandOff.TryRestore(entry))
            {
                _retries.ReturnToReady(entry, recovered: true);
            }
        }

        // A restart may have come between storing a publish and dropping what it pushed out: done again now.
        _limit.Enforce();
        Dispatcher.Dispatch();
    }

    void IMessageLogListener.OnPagedIn() => Dispatcher.Dispatch();

    void IMessageLogListener.OnWritten(TimeSpan duration, int appends) => State.Metrics.Committed(duration, appends);

    void IMessageLogListener.OnLogTakenOver()
    {
        // Storage refused a write because the log changed under this activation: keep failing every commit (callers get
        // StorageUnavailable and retry) or step down, so the next call activates the queue again from what is stored.
        LogTakenOver(_logger, State.Name);
        _host.StepDown();
    }

    /// <summary>Once recovery has read the whole log, message groups held back meanwhile go on.</summary>
    private async Task ReleaseGroupsAfterRecoveryAsync()
    {
        await Log.Recovery;
        State.Ready.Recovering = false;
        State.Ready.ResumeGroups();
        Dispatcher.Dispatch();
    }

    private void PruneDeduplication(DateTimeOffset now)
    {
        if (!Log.Meta.Created)
        {
            return;
        }

        var olderThan = (now - State.Options.DeduplicationWindow).UtcTicks;
        Publisher.Dedup.Prune(olderThan);
        Log.PruneDedup(olderThan);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: loading its log failed [correlation id {CorrelationId}]; the activation fails and is tried again with the next call")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception, string queue, string correlationId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Queue {Queue}: its log was changed by another writer (an activation on a failing silo, or a second one); this activation steps down and the queue loads again on the next call")]
    private static partial void LogTakenOver(ILogger logger, string queue);
}

/// <summary>How often a queue's periodic tick must run (<see cref="QueueCore.Pace"/>).</summary>
internal enum TickPace
{
    /// <summary>Not at all until the next call.</summary>
    None,

    /// <summary>Every <see cref="BrokerOptions.ConsumerRenewInterval"/> (at least every <see cref="BrokerOptions.LeaseCheckInterval"/>).</summary>
    Slow,

    /// <summary>Every <see cref="BrokerOptions.LeaseCheckInterval"/>.</summary>
    Every,
}
