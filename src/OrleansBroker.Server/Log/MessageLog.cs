using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Storage;
using OrleansBroker.Server.Errors;

namespace OrleansBroker.Server.Log;

/// <summary>
/// A queue's durable message log over Orleans <see cref="IGrainStorage"/> (docs/architecture.md, "How it stores messages"):
/// <list type="bullet">
/// <item>each commit writes the new messages as one immutable segment record <c>s{n}</c>, so bytes
/// written per message stay near its size and a publish never rewrites older messages;</item>
/// <item>settles are recorded in a small per-segment record <c>a{n}</c>, written one commit behind the metadata,
/// which carries them meanwhile (<see cref="SettleCarry"/>); a segment whose messages are all settled is deleted
/// with its <c>a{n}</c>;</item>
/// <item>one small <c>meta</c> record holds the segment range, the next sequence and counters;</item>
/// <item>group commit: appends and settles that arrive while a commit is being written go into the
/// next one (<see cref="CommitPlan"/>); an append completes only after the commit holding it succeeded;</item>
/// <item>page-out: per live message only its size, a settle bit and, once it has them, its attempts and retry time stay
/// in memory, in its segment's arrays (<see cref="SegmentIndex"/>, read through <see cref="LogEntry"/> views).
/// Bodies stay resident up to <see cref="MessageLogOptions.ResidentBytes"/>; past that the segments furthest from
/// delivery are dropped from memory and read back when delivery reaches them (<see cref="SegmentPager"/>);</item>
/// <item>recovery reads the first segments before the queue serves anything, the rest in the background
/// (<see cref="LogRecovery"/>), so the first delivery after a restart does not wait for a deep queue.</item>
/// </list>
/// Not thread-safe: it runs on its grain's scheduler (reentrant turns, one at a time).
/// </summary>
internal sealed partial class MessageLog
{
    private readonly LogRecordStore _store;
    private readonly MessageLogOptions _options;
    private readonly ILogger _logger;
    private readonly IMessageLogListener _listener;
    private readonly SegmentIndex _index;
    private readonly SegmentPager _pager;
    private readonly LogRecovery _recovery;
    private readonly DedupRecords _dedup;
    private readonly SettleCarry _settles = new();
    private readonly PendingChanges _changes = new();
    private readonly QuietFlush _quietFlush;
    private StoredRecord<LogMeta> _meta = new();
    private TaskCompletionSource _commitWaiters = NewWaiter();
    private Task _recovered = Task.CompletedTask;

    /// <summary>The commit being written, which holds every change made before it started.</summary>
    private CommitPlan? _writing;

    /// <summary>A delivery waits for the next commit: it does not linger for a publish.</summary>
    private bool _skipLinger;
    private bool _flushing;

    /// <summary>Set while a commit without publishes lingers (<see cref="MessageLogOptions.CommitLinger"/>): the next publish ends the wait.</summary>
    private TaskCompletionSource? _appendArrived;

    public MessageLog(IGrainStorage storage, GrainId grainId, MessageLogOptions options, ILogger logger, IMessageLogListener listener)
    {
        _store = new LogRecordStore(storage, grainId);
        _options = options;
        _logger = logger;
        _listener = listener;
        _index = new SegmentIndex(options.ResidentBytes);
        _pager = new SegmentPager(_store, _index, listener, logger);
        _recovery = new LogRecovery(_store, _index, listener, logger);
        _dedup = new DedupRecords(_store, logger);
        _quietFlush = new QuietFlush(() => _flushing, FlushCarried);
    }

    /// <summary>The metadata in force (in memory; persisted with the next commit once changed through this class).</summary>
    public LogMeta Meta => _meta.State;

    /// <summary>Live messages in the log, also those recovery has not read yet.</summary>
    public long LiveCount => _meta.State.LiveCounted ? _meta.State.Live : _index.TrackedCount;

    /// <summary>Body bytes of the live messages, also those recovery has not read yet.</summary>
    public long LiveBytes => _meta.State.BytesCounted ? _meta.State.LiveBytes : _index.TrackedBytes;

    /// <summary>
    /// Live messages whose commit has landed (<see cref="LiveCount"/> without a commit being written): what
    /// <see cref="TrackedEntries"/> shows once recovery is done, and what a queue reports as its depth.
    /// </summary>
    public long LandedCount => LiveCount - (_writing?.WrittenCount ?? 0);

    /// <summary>Body bytes of <see cref="LandedCount"/>.</summary>
    public long LandedBytes => LiveBytes - (_writing?.WrittenBytes ?? 0);

    /// <summary>Number of segment records currently live.</summary>
    public int SegmentCount => _index.Count;

    /// <summary>Number of live segments whose bodies are in memory.</summary>
    public int ResidentSegmentCount => _index.ResidentCount;

    /// <summary>Approximate bytes of the bodies in memory.</summary>
    public long ResidentBytes => _index.ResidentBytes;

    /// <summary>Number of deduplication records live in storage.</summary>
    public int DedupRecordCount => _dedup.Count;

    /// <summary>The producer-set ids read by <see cref="LoadAsync"/>, oldest first; the queue takes them once.</summary>
    public List<DedupMark> RecoveredDedupMarks => _dedup.RecoveredMarks;

    /// <summary>Completes once recovery has read every segment (at once for a new log).</summary>
    public Task Recovery => _recovered;

    /// <summary>Whether a commit is being written or waiting to be.</summary>
    public bool HasPendingWork => _flushing || HasChanges;

    private bool HasChanges => _changes.Any || _dedup.HasAbandoned;

    /// <summary>The live message with <paramref name="sequence"/>, if recovery has read it.</summary>
    public bool TryGetEntry(long sequence, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out LogEntry? entry) =>
        _index.TryGetEntry(sequence, out entry);

    /// <summary>The live messages read so far with a sequence above <paramref name="after"/>, in sequence order.</summary>
    public IEnumerable<LogEntry> TrackedEntries(long after = 0) => _index.TrackedEntries(after);

    /// <inheritdoc cref="SegmentPager.TryGetMessage"/>
    public bool TryGetMessage(LogEntry entry, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out StoredMessage? message) =>
        _pager.TryGetMessage(entry, out message);

    /// <inheritdoc cref="SegmentPager.ReadMessageAsync"/>
    public Task<StoredMessage> ReadMessageAsync(LogEntry entry) => _pager.ReadMessageAsync(entry);

    /// <summary>
    /// Reads the metadata and the first segments and returns their live messages in sequence order;
    /// the rest of the log is read in the background and handed over through
    /// <see cref="IMessageLogListener.OnRecovered"/> (see <see cref="Recovery"/>).
    /// </summary>
    public async Task<IReadOnlyList<LogEntry>> LoadAsync()
    {
        _meta = new StoredRecord<LogMeta>();
        await _store.ReadIntoAsync(LogRecordStore.MetaName, _meta);
        if (!_meta.RecordExists)
        {
            _meta.State.LiveCounted = true;
            _meta.State.BytesCounted = true;
            _meta.State.LiveSegments = [];
            return [];
        }

        _settles.Load(_meta.State);
        var (live, rest) = await _recovery.ReadFirstAsync(_meta);
        await _dedup.LoadAsync(_meta.State);
        if (rest.Count > 0)
        {
            _recovered = RecoverRestAsync(rest);
        }
        else
        {
            RecoveryDone();
        }

        return live;
    }

    private async Task RecoverRestAsync(List<long> rest)
    {
        if (await _recovery.ReadRestAsync(rest))
        {
            RecoveryDone();
        }
    }

    private void RecoveryDone()
    {
        if (_settles.HasWrites)
        {
            // What the loaded metadata carries (segments it cleared among it) is written even if no commit comes.
            _quietFlush.Start();
        }

        if (_recovery.CorrectCounts(_meta.State, _writing?.WrittenCount ?? 0, _writing?.WrittenBytes ?? 0, _writing?.WrittenSegment))
        {
            _changes.MetaDirty = true;
        }
    }

    /// <summary>Stops a recovery still running and the writes a quiet log has left (the grain is deactivating).</summary>
    public void Stop()
    {
        _quietFlush.Stop();
        _recovery.Stop();
    }

    /// <summary>Hands out the next sequence number.</summary>
    public long NextSequence() => _meta.State.NextSequence++;

    /// <summary>
    /// Queues <paramref name="messages"/> for the next commit; completes when they are durable, after
    /// the committed-callback has seen them. <paramref name="marks"/> (producer-set ids to deduplicate on)
    /// are stored with them in the same commit.
    /// </summary>
    public Task AppendAsync(IReadOnlyList<StoredMessage> messages, IReadOnlyList<DedupMark>? marks = null)
    {
        var pending = new PendingAppend(messages, marks);
        _changes.Appends.Add(pending);
        _appendArrived?.TrySetResult();
        EnsureFlushing();
        return pending.Completion.Task;
    }

    /// <summary>Marks a live message settled (acked, dead-lettered, purged). Durable with the next commit (<see cref="CommitAsync"/>).</summary>
    public bool Settle(long sequence) => TryGetEntry(sequence, out var entry) && Settle(entry);

    /// <summary>Marks <paramref name="entry"/> settled, for a caller that holds it already (no second lookup); false if it was settled before.</summary>
    public bool Settle(LogEntry entry)
    {
        if (!_index.Settle(entry))
        {
            return false;
        }

        _changes.Settled(entry.Sequence);
        _changes.DirtySegments.Add(entry.Segment.Id);
        if (_meta.State.LiveCounted)
        {
            _meta.State.Live--;
        }

        if (_meta.State.BytesCounted)
        {
            _meta.State.LiveBytes -= entry.BodyBytes;
        }

        _changes.MetaDirty = true;
        return true;
    }

    /// <summary>
    /// Records a delivery attempt, durable with the next commit: the queue commits before the delivery goes out. Returns
    /// false when there is nothing to store: the message's first attempt was stored with it (see
    /// <see cref="IMessageLogListener.DeliverableOnLanding"/>) and this is that attempt.
    /// </summary>
    public bool RecordAttempt(LogEntry entry) => _changes.RecordAttempt(entry);

    /// <summary>Takes back an attempt whose delivery never went out (its commit failed).</summary>
    public void UndoAttempt(LogEntry entry) => _changes.UndoAttempt(entry);

    /// <summary>Sets (or with 0 clears) the time before which <paramref name="entry"/> is not delivered; durable with the next commit.</summary>
    public void SetNotBefore(LogEntry entry, long utcTicks) => _changes.SetNotBefore(entry, utcTicks);

    /// <summary>Applies <paramref name="change"/> to the metadata; durable with the next commit.</summary>
    public void UpdateMeta(Action<LogMeta> change)
    {
        change(_meta.State);
        _changes.MetaDirty = true;
    }

    /// <summary>Lets go of the deduplication records whose newest id was accepted before <paramref name="olderThanTicks"/>.</summary>
    public void PruneDedup(long olderThanTicks)
    {
        if (_dedup.Prune(_meta.State, olderThanTicks))
        {
            _changes.MetaDirty = true;
            EnsureFlushing();
        }
    }

    /// <summary>Completes when every change made so far is durable.</summary>
    public Task CommitAsync()
    {
        if (!HasPendingWork)
        {
            return Task.CompletedTask;
        }

        if (!HasChanges && _writing is { } writing)
        {
            // Nothing changed since the write under way started: that write is the one to wait for, not the next.
            return writing.Waiters.Task;
        }

        var waiter = _commitWaiters.Task;
        EnsureFlushing();
        return waiter;
    }

    /// <summary>
    /// <see cref="CommitAsync"/> for a caller that holds up a delivery (attempt counts): the commit does not wait
    /// <see cref="MessageLogOptions.CommitLinger"/> for a publish to share it.
    /// </summary>
    public Task CommitPromptlyAsync()
    {
        if (HasChanges)
        {
            _skipLinger = true;
            _appendArrived?.TrySetResult();
        }

        return CommitAsync();
    }

    /// <summary>Starts a commit of whatever changes wait (a failed commit's leftovers, counters); awaits nothing.</summary>
    public void FlushInBackground()
    {
        if (HasChanges)
        {
            EnsureFlushing();
        }
    }

    /// <summary>Deletes every record of the log but the metadata, which keeps the numbering so that nothing is reused.</summary>
    public async Task DeleteAllAsync()
    {
        await _recovered;
        await CommitAsync();
        await Task.WhenAll(_index.Segments.Select(_store.DeleteSegmentAsync).ToList());
        _index.Clear();
        _changes.Deleted();
        await _settles.DeleteAllAsync(_store);
        _meta.State.CarriedSettles = [];
        _meta.State.Written = null;
        await _dedup.DeleteAllAsync(_meta.State);
        _meta.State.FirstSegment = _meta.State.NextSegment;
        _meta.State.Live = 0;
        _meta.State.LiveCounted = true;
        _meta.State.LiveBytes = 0;
        _meta.State.BytesCounted = true;
        _meta.State.LiveSegments = [];
        _meta.State.Created = false;
        await _store.WriteAsync(LogRecordStore.MetaName, _meta);
    }

    private void EnsureFlushing()
    {
        if (!_flushing)
        {
            _flushing = true;
            _ = FlushLoopAsync();
        }
    }

    private async Task FlushLoopAsync()
    {
        try
        {
            // Yield once so that every request already queued on the grain joins this commit.
            await Task.Yield();
            while (HasChanges)
            {
                if (_changes.Appends.Count == 0 && !_skipLinger && _options.CommitLinger > TimeSpan.Zero)
                {
                    // Only settles and the like wait: at a steady rate a publish comes along and one fsync carries both.
                    _appendArrived = new TaskCompletionSource();
                    await Task.WhenAny(_appendArrived.Task, Task.Delay(_options.CommitLinger));
                    _appendArrived = null;
                }

                if (!await CommitOnceAsync())
                {
                    // Its callers have the error; what is left is retried on the next change or FlushInBackground,
                    // not in a tight loop against a storage that is down.
                    return;
                }
            }

            // Everything asked for so far is durable: release callers that only waited for the commit in flight.
            var waiters = _commitWaiters;
            _commitWaiters = NewWaiter();
            waiters.TrySetResult();
            if (_settles.HasWrites)
            {
                _quietFlush.Start();
            }
        }
        finally
        {
            _writing = null;
            _flushing = false;
        }
    }

    /// <summary>Writes what the metadata carries with a commit of its own (the log went quiet).</summary>
    private void FlushCarried()
    {
        if (_settles.HasWrites)
        {
            _changes.MetaDirty = true;
            EnsureFlushing();
        }
    }

    private async Task<bool> CommitOnceAsync()
    {
        var plan = CommitPlan.Take(_changes, _commitWaiters, _index, _dedup, _settles, _meta.State, _options, recovering: !_recovered.IsCompleted,
            _listener.DeliverableOnLanding);
        _commitWaiters = NewWaiter();
        _skipLinger = false;
        _writing = plan;
        var started = Stopwatch.GetTimestamp();
        try
        {
            await plan.WriteAsync(_store, _meta, _index, _settles);
        }
        catch (Exception exception)
        {
            _writing = null;
            var correlationId = ClientSafeErrors.NewCorrelationId();
            LogCommitFailed(exception, _store.GrainId, plan.Size.Appends, plan.Size.Segments, correlationId);
            if (IsEtagConflict(exception))
            {
                _listener.OnLogTakenOver();
            }

            plan.RollBack(_changes, _index, _dedup, _meta.State, ClientSafeErrors.FromStorage(exception, "store the change", correlationId));
            return false;
        }

        _writing = null;
        _quietFlush.CommitLanded();
        _listener.OnWritten(Stopwatch.GetElapsedTime(started), plan.Size.Appends);
        var entries = plan.Apply(_index, _dedup, _settles);
        _changes.CountedAhead(entries.Take(plan.CountedAhead));
        if (entries.Count > 0)
        {
            _listener.OnCommitted(entries);
            _index.TrimResident();
        }

        plan.Complete();
        return true;
    }

    private static TaskCompletionSource NewWaiter() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Whether a storage failure says another writer changed a record since this log read it (ETag mismatch).</summary>
    private static bool IsEtagConflict(Exception exception) => exception switch
    {
        InconsistentStateException => true,
        Azure.RequestFailedException { Status: 412 } => true,
        AggregateException aggregate => aggregate.InnerExceptions.Any(IsEtagConflict),
        { InnerException: { } inner } => IsEtagConflict(inner),
        _ => false,
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Commit of {GrainId} failed ({Appends} appends, {Segments} settled segments) [correlation id {CorrelationId}]; callers get a broker error with this id and settles are retried")]
    private partial void LogCommitFailed(Exception exception, GrainId grainId, int appends, int segments, string correlationId);
}
