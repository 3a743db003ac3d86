using Microsoft.Extensions.Logging;
using Orleans.Storage;
using OrleansBroker.Server.Errors;

namespace OrleansBroker.Server.Log;

/// <summary>
/// A queue's durable message log over Orleans <see cref="IGrainStorage"/>, as DESIGN.md describes:
/// <list type="bullet">
/// <item>each commit writes the new messages as one immutable segment record <c>s{n}</c>, so bytes
/// written per message stay near its size and a publish never rewrites older messages;</item>
/// <item>settles are recorded in a small per-segment record <c>a{n}</c>; a segment whose messages
/// are all settled is deleted with its <c>a{n}</c>;</item>
/// <item>one small <c>meta</c> record holds the segment range, the next sequence and counters;</item>
/// <item>group commit: appends and settles that arrive while a commit is being written go into the
/// next one; an append completes only after the commit holding it succeeded;</item>
/// <item>page-out: per live message only a small <see cref="LogEntry"/> stays in memory. Bodies stay
/// resident up to <see cref="MessageLogOptions.ResidentBytes"/>; past that the segments furthest from
/// delivery are dropped from memory and read back when delivery reaches them
/// (<see cref="TryGetMessage"/>, with read-ahead);</item>
/// <item>recovery reads the first segments before the queue serves anything, the rest in the background
/// (<see cref="Recovery"/>), so the first delivery after a restart does not wait for a deep queue.</item>
/// </list>
/// Not thread-safe: it runs on its grain's scheduler (reentrant turns, one at a time).
/// </summary>
internal sealed partial class MessageLog
{
    private const string MetaRecord = "meta";
    private const int LoadParallelism = 16;
    private const int ReadAheadSegments = 2;
    private static readonly TimeSpan MaxRecoveryRetryDelay = TimeSpan.FromSeconds(5);

    private readonly IGrainStorage _storage;
    private readonly GrainId _grainId;
    private readonly MessageLogOptions _options;
    private readonly ILogger _logger;
    private readonly IMessageLogListener _listener;
    private readonly SortedList<long, Segment> _segments = [];
    private readonly ResidentSegments _resident;
    private readonly List<PendingAppend> _pendingAppends = [];
    private readonly HashSet<long> _dirtySegments = [];
    private readonly HashSet<long> _abandonedSegments = [];
    private StoredRecord<LogMeta> _meta = new();
    private TaskCompletionSource _settleWaiters = NewWaiter();

    /// <summary>The waiters of the write under way, which holds every change made before it started.</summary>
    private TaskCompletionSource? _writingWaiters;

    /// <summary>A delivery waits for the next commit: it does not linger for a publish.</summary>
    private bool _skipLinger;
    private Task _recovery = Task.CompletedTask;
    private int _tracked;
    private long _trackedBytes;
    private int _committingCount;
    private long _committingBytes;
    private long _readAheadFrom = -1;
    private bool _metaDirty;
    private bool _flushing;

    /// <summary>Set while a commit without publishes lingers (<see cref="MessageLogOptions.CommitLinger"/>): the next publish ends the wait.</summary>
    private TaskCompletionSource? _appendArrived;
    private bool _stopped;

    public MessageLog(IGrainStorage storage, GrainId grainId, MessageLogOptions options, ILogger logger, IMessageLogListener listener)
    {
        _storage = storage;
        _grainId = grainId;
        _options = options;
        _logger = logger;
        _listener = listener;
        _resident = new ResidentSegments(options.ResidentBytes);
    }

    /// <summary>The metadata in force (in memory; persisted with the next commit once changed through this class).</summary>
    public LogMeta Meta => _meta.State;

    /// <summary>Live messages in the log, also those recovery has not read yet.</summary>
    public long LiveCount => _meta.State.LiveCounted ? _meta.State.Live : _tracked;

    /// <summary>Body bytes of the live messages, also those recovery has not read yet.</summary>
    public long LiveBytes => _meta.State.BytesCounted ? _meta.State.LiveBytes : _trackedBytes;

    /// <summary>
    /// Live messages whose commit has landed (<see cref="LiveCount"/> without a commit being written): what
    /// <see cref="TrackedEntries"/> shows once recovery is done, and what a queue reports as its depth.
    /// </summary>
    public long LandedCount => LiveCount - _committingCount;

    /// <summary>Body bytes of <see cref="LandedCount"/>.</summary>
    public long LandedBytes => LiveBytes - _committingBytes;

    /// <summary>
    /// The live message with <paramref name="sequence"/>, if recovery has read it. Found through its
    /// segment (binary searches, no per-message table): the index costs a few bytes per message.
    /// </summary>
    public bool TryGetEntry(long sequence, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out LogEntry? entry)
    {
        var segments = _segments.Values;
        int low = 0, high = segments.Count - 1, found = -1;
        while (low <= high)
        {
            var mid = (low + high) >>> 1;
            if (segments[mid].FirstSequence <= sequence)
            {
                found = mid;
                low = mid + 1;
            }
            else
            {
                high = mid - 1;
            }
        }

        entry = found >= 0 ? segments[found].Find(sequence) : null;
        return entry is not null;
    }

    /// <summary>The live messages read so far with a sequence above <paramref name="after"/>, in sequence order.</summary>
    public IEnumerable<LogEntry> TrackedEntries(long after = 0)
    {
        foreach (var segment in _segments.Values)
        {
            if (segment.SequenceAt(segment.Count - 1) <= after)
            {
                continue;
            }

            for (var i = 0; i < segment.Count; i++)
            {
                if (segment.EntryAt(i) is { } entry && entry.Sequence > after)
                {
                    yield return entry;
                }
            }
        }
    }

    /// <summary>Number of segment records currently live.</summary>
    public int SegmentCount => _segments.Count;

    /// <summary>Number of live segments whose bodies are in memory.</summary>
    public int ResidentSegmentCount => _resident.Count;

    /// <summary>Approximate bytes of the bodies in memory.</summary>
    public long ResidentBytes => _resident.Bytes;

    /// <summary>Completes once recovery has read every segment (at once for a new log).</summary>
    public Task Recovery => _recovery;

    /// <summary>Whether a commit is being written or waiting to be.</summary>
    public bool HasPendingWork => _flushing || HasChanges;

    private bool HasChanges => _pendingAppends.Count > 0 || _dirtySegments.Count > 0 || _metaDirty || _abandonedSegments.Count > 0 || _abandonedDedup.Count > 0;

    /// <summary>
    /// Reads the metadata and the first segments and returns their live messages in sequence order;
    /// the rest of the log is read in the background and handed over through
    /// <see cref="IMessageLogListener.OnRecovered"/> (see <see cref="Recovery"/>).
    /// </summary>
    public async Task<IReadOnlyList<LogEntry>> LoadAsync()
    {
        _meta = new StoredRecord<LogMeta>();
        await _storage.ReadStateAsync(MetaRecord, _grainId, _meta);
        if (!_meta.RecordExists)
        {
            _meta.State.LiveCounted = true;
            _meta.State.BytesCounted = true;
            return [];
        }

        // Before any new commit can reuse their ids.
        await DeleteUncommittedSegmentsAsync();
        await LoadDedupAsync();

        var ids = new List<long>();
        for (var id = _meta.State.FirstSegment; id < _meta.State.NextSegment; id++)
        {
            ids.Add(id);
        }

        var live = await LoadSegmentsAsync(ids.Take(LoadParallelism).ToList());
        LogLoaded(_grainId, live.Count, _segments.Count, Math.Max(0, ids.Count - LoadParallelism));
        if (ids.Count > LoadParallelism)
        {
            _recovery = RecoverAsync(ids.Skip(LoadParallelism).ToList());
        }
        else
        {
            RecoveryDone();
        }

        return live;
    }

    /// <summary>Stops a recovery still running (the grain is deactivating).</summary>
    public void Stop() => _stopped = true;

    private async Task RecoverAsync(List<long> ids)
    {
        var recovered = 0;
        var retryDelay = TimeSpan.FromMilliseconds(100);
        foreach (var chunk in ids.Chunk(LoadParallelism))
        {
            // A storage that answers synchronously (SQLite) would otherwise read the whole log in one turn:
            // yield to the grain's queue between chunks, so deliveries and other calls go on meanwhile.
            await Task.Yield();
            while (!_stopped)
            {
                try
                {
                    var entries = await LoadSegmentsAsync(chunk);
                    recovered += entries.Count;
                    if (!_stopped)
                    {
                        _listener.OnRecovered(entries);
                    }

                    break;
                }
                catch (Exception exception)
                {
                    // The rest of the log stays unread (invisible, not lost) until storage answers again.
                    LogRecoveryReadFailed(exception, _grainId, chunk[0], retryDelay);
                    await Task.Delay(retryDelay);
                    retryDelay = TimeSpan.FromTicks(Math.Min(retryDelay.Ticks * 2, MaxRecoveryRetryDelay.Ticks));
                }
            }
        }

        if (!_stopped)
        {
            RecoveryDone();
            LogRecovered(_grainId, recovered, _tracked, _resident.Count);
        }
    }

    /// <summary>
    /// Every segment is read, so the live messages are known exactly: the stored counts are set from them. They
    /// can be off after a crash, since a commit's records land one by one: the metadata with a settle counted
    /// and the segment's settle record without it (the message is live again and its next settle would count twice),
    /// or the reverse. A log written before the counts were kept gets them here too. A commit being written
    /// counts its messages in the metadata already but in the tracked entries only once it has landed.
    /// The corrected counts are stored with the next commit.
    /// </summary>
    private void RecoveryDone()
    {
        var live = _tracked + (long)_committingCount;
        var bytes = _trackedBytes + _committingBytes;
        if (!_meta.State.LiveCounted || _meta.State.Live != live)
        {
            if (_meta.State.LiveCounted)
            {
                LogCountCorrected(_grainId, _meta.State.Live, live);
            }

            _meta.State.Live = live;
            _meta.State.LiveCounted = true;
            _metaDirty = true;
        }

        if (!_meta.State.BytesCounted || _meta.State.LiveBytes != bytes)
        {
            _meta.State.LiveBytes = bytes;
            _meta.State.BytesCounted = true;
            _metaDirty = true;
        }
    }

    /// <summary>Reads segments (absent ids are skipped), registers them and returns their live messages in sequence order.</summary>
    private async Task<List<LogEntry>> LoadSegmentsAsync(IReadOnlyList<long> ids)
    {
        var live = new List<LogEntry>();
        foreach (var chunk in ids.Chunk(LoadParallelism))
        {
            var loaded = await Task.WhenAll(chunk.Select(LoadSegmentAsync));
            foreach (var segment in loaded.OfType<Segment>())
            {
                Register(segment, live);
            }

            _resident.Trim();
        }

        return live;
    }

    private void Register(Segment segment, List<LogEntry> live)
    {
        _segments.Add(segment.Id, segment);
        _resident.Add(segment);
        var attempts = segment.State.State.Attempts;
        for (var i = 0; i < segment.Count; i++)
        {
            if (!segment.IsSettled(i))
            {
                var sequence = segment.SequenceAt(i);
                // A retry time stored with the segment's settles wins over the time the message was scheduled for.
                var entry = new LogEntry(segment, i, sequence, attempts.GetValueOrDefault(sequence))
                {
                    NotBefore = segment.State.State.NotBefore.GetValueOrDefault(sequence, segment.ScheduledAt(i)),
                };
                segment.Track(entry);
                _tracked++;
                _trackedBytes += segment.BodyBytesAt(i);
                live.Add(entry);
            }
        }
    }

    /// <summary>
    /// The body of a live message if it is in memory. If not, it is read in the background and
    /// <see cref="IMessageLogListener.OnPagedIn"/> follows; the next segments are read ahead either way.
    /// </summary>
    public bool TryGetMessage(LogEntry entry, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out StoredMessage? message)
    {
        var segment = entry.Segment;
        if (segment.Id != _readAheadFrom)
        {
            _readAheadFrom = segment.Id;
            ReadAhead(segment.Id);
        }

        if (segment.Messages is { } messages)
        {
            message = messages[entry.Index];
            return true;
        }

        _ = PageInAsync(segment);
        message = null;
        return false;
    }

    /// <summary>The body of a live message, read from storage if it is not in memory.</summary>
    public async Task<StoredMessage> ReadMessageAsync(LogEntry entry) => (await PageInAsync(entry.Segment))[entry.Index];

    private void ReadAhead(long id)
    {
        var index = _segments.IndexOfKey(id);
        if (index < 0)
        {
            return;
        }

        var values = _segments.Values;
        for (var i = index + 1; i < values.Count && i <= index + ReadAheadSegments; i++)
        {
            if (!values[i].IsResident)
            {
                _ = PageInAsync(values[i]);
            }
        }
    }

    private Task<IReadOnlyList<StoredMessage>> PageInAsync(Segment segment)
    {
        if (segment.Messages is { } messages)
        {
            return Task.FromResult(messages);
        }

        if (segment.PageIn is { } pending)
        {
            return pending.Task;
        }

        var read = new TaskCompletionSource<IReadOnlyList<StoredMessage>>(TaskCreationOptions.RunContinuationsAsynchronously);
        segment.PageIn = read;
        _ = ReadBodiesAsync(segment, read);
        return read.Task;
    }

    private async Task ReadBodiesAsync(Segment segment, TaskCompletionSource<IReadOnlyList<StoredMessage>> read)
    {
        // Always in a turn of its own, also where storage answers at once (SQLite reads complete inline): otherwise
        // OnPagedIn would dispatch from inside the dispatch that asked for the page-in (TryGetMessage, ReadAhead)
        // while that one holds a message it has peeked at.
        await Task.Yield();
        try
        {
            var record = new StoredRecord<SegmentRecord>();
            await _storage.ReadStateAsync(SegmentName(segment.Id), _grainId, record);
            if (!record.RecordExists)
            {
                throw new InvalidOperationException($"Segment record {SegmentName(segment.Id)} is missing from storage although messages in it are live.");
            }

            segment.PageIn = null;
            if (!segment.IsResident && _segments.TryGetValue(segment.Id, out var current) && current == segment)
            {
                segment.Restore(record.State);
                _resident.Add(segment);
            }

            read.SetResult(record.State.Messages);
            _listener.OnPagedIn();
            _resident.Trim();
        }
        catch (Exception exception)
        {
            segment.PageIn = null;
            var correlationId = ClientSafeErrors.NewCorrelationId();
            LogPageInFailed(exception, _grainId, segment.Id, correlationId);
            read.SetException(ClientSafeErrors.FromStorage(exception, "read stored messages", correlationId));

            // Observed here: a read-ahead nobody awaits is simply asked for again by the next dispatch.
            _ = read.Task.Exception;
        }
    }

    private void Forget(Segment segment)
    {
        _segments.Remove(segment.Id);
        _resident.Remove(segment);
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
        _pendingAppends.Add(pending);
        _appendArrived?.TrySetResult();
        EnsureFlushing();
        return pending.Completion.Task;
    }

    /// <summary>Marks a live message settled (acked, dead-lettered, purged). Durable with the next commit (<see cref="CommitAsync"/>).</summary>
    public bool Settle(long sequence) => TryGetEntry(sequence, out var entry) && Settle(entry);

    /// <summary>Marks <paramref name="entry"/> settled, for a caller that holds it already (no second lookup); false if it was settled before.</summary>
    public bool Settle(LogEntry entry)
    {
        var segment = entry.Segment;
        if (!segment.MarkSettled(entry))
        {
            return false;
        }

        _tracked--;
        _trackedBytes -= entry.BodyBytes;
        _dirtySegments.Add(segment.Id);
        if (_meta.State.LiveCounted)
        {
            _meta.State.Live--;
        }

        if (_meta.State.BytesCounted)
        {
            _meta.State.LiveBytes -= entry.BodyBytes;
        }

        _metaDirty = true;
        return true;
    }

    /// <summary>Records a delivery attempt, durable with the next commit: the queue commits before the delivery goes out.</summary>
    public void RecordAttempt(LogEntry entry)
    {
        entry.Attempts++;
        StoreAttempts(entry);
    }

    /// <summary>Takes back an attempt whose delivery never went out (its commit failed).</summary>
    public void UndoAttempt(LogEntry entry)
    {
        entry.Attempts--;
        if (entry.Attempts > 0)
        {
            StoreAttempts(entry);
        }
        else if (entry.Segment.State.State.Attempts.Remove(entry.Sequence))
        {
            _dirtySegments.Add(entry.Segment.Id);
        }
    }

    /// <summary>Puts the entry's attempts in its segment's settle record, written with the next commit.</summary>
    private void StoreAttempts(LogEntry entry)
    {
        entry.Segment.State.State.Attempts[entry.Sequence] = entry.Attempts;
        _dirtySegments.Add(entry.Segment.Id);
    }

    /// <summary>Sets (or with 0 clears) the time before which <paramref name="entry"/> is not delivered; durable with the next commit.</summary>
    public void SetNotBefore(LogEntry entry, long utcTicks)
    {
        entry.NotBefore = utcTicks;
        var stored = entry.Segment.State.State.NotBefore;
        if (utcTicks == 0)
        {
            if (!stored.Remove(entry.Sequence))
            {
                return;
            }
        }
        else
        {
            stored[entry.Sequence] = utcTicks;
        }

        _dirtySegments.Add(entry.Segment.Id);
    }

    /// <summary>Applies <paramref name="change"/> to the metadata; durable with the next commit.</summary>
    public void UpdateMeta(Action<LogMeta> change)
    {
        change(_meta.State);
        _metaDirty = true;
    }

    /// <summary>Completes when every change made so far is durable.</summary>
    public Task CommitAsync()
    {
        if (!HasPendingWork)
        {
            return Task.CompletedTask;
        }

        if (!HasChanges && _writingWaiters is { } writing)
        {
            // Nothing changed since the write under way started: that write is the one to wait for, not the next.
            return writing.Task;
        }

        var waiter = _settleWaiters.Task;
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
                if (_pendingAppends.Count == 0 && !_skipLinger && _options.CommitLinger > TimeSpan.Zero)
                {
                    // Only settles and the like wait: at a steady rate a publish comes along and one fsync carries both.
                    _appendArrived = new TaskCompletionSource();
                    await Task.WhenAny(_appendArrived.Task, Task.Delay(_options.CommitLinger));
                    _appendArrived = null;
                }

                var committed = await FlushOnceAsync();
                _writingWaiters = null;
                if (!committed)
                {
                    // Its callers have the error; what is left is retried on the next change or FlushInBackground,
                    // not in a tight loop against a storage that is down.
                    return;
                }
            }

            // Everything asked for so far is durable: release callers that only waited for the commit in flight.
            var waiters = _settleWaiters;
            _settleWaiters = NewWaiter();
            waiters.TrySetResult();
        }
        finally
        {
            _writingWaiters = null;
            _flushing = false;
        }
    }

    /// <summary>Starts a commit of whatever changes wait (a failed commit's leftovers, counters); awaits nothing.</summary>
    public void FlushInBackground()
    {
        if (HasChanges)
        {
            EnsureFlushing();
        }
    }

    private async Task<bool> FlushOnceAsync()
    {
        var appends = TakeAppends();
        var settleWaiters = _settleWaiters;
        _settleWaiters = NewWaiter();
        _writingWaiters = settleWaiters;
        _skipLinger = false;
        var dirty = _dirtySegments.ToList();
        _dirtySegments.Clear();
        _metaDirty = false;

        var writes = new List<Task>();
        Segment? written = null;
        long writtenBytes = 0;
        var marks = new List<DedupMark>();
        if (appends.Count > 0)
        {
            var messages = new List<StoredMessage>();
            foreach (var append in appends)
            {
                messages.AddRange(append.Messages);
                if (append.Marks is not null)
                {
                    marks.AddRange(append.Marks);
                }
            }

            foreach (var message in messages)
            {
                writtenBytes += message.Body.Length;
            }

            written = new Segment(_meta.State.NextSegment++, new StoredRecord<SegmentRecord> { State = new SegmentRecord { Messages = messages } }, new StoredRecord<SegmentStateRecord>());
            writes.Add(_storage.WriteStateAsync(SegmentName(written.Id), _grainId, written.Record));
        }

        var cleared = new List<Segment>();
        foreach (var id in dirty)
        {
            if (!_segments.TryGetValue(id, out var segment))
            {
                continue;
            }

            if (segment.LiveCount == 0)
            {
                cleared.Add(segment);
                writes.Add(DeleteSegmentAsync(segment));
            }
            else
            {
                segment.State.State.Settled = segment.SettledBitmap();
                writes.Add(_storage.WriteStateAsync(StateName(id), _grainId, segment.State));
            }
        }

        foreach (var id in _abandonedSegments.ToList())
        {
            _abandonedSegments.Remove(id);
            writes.Add(ClearAbandonedAsync<SegmentRecord>(SegmentName(id)));
        }

        // Dedup records go in before the metadata that makes them part of the log, never with it: a record whose
        // commit failed must not be read back, or a retried publish of a message never stored would count as a repeat.
        var twoPhase = _abandonedDedup.Count > 0 || marks.Count > 0;
        foreach (var id in _abandonedDedup.ToList())
        {
            _abandonedDedup.Remove(id);
            writes.Add(ClearAbandonedAsync<DedupRecord>(DedupName(id)));
        }

        var pruned = TakePrunedDedup();
        var dedup = marks.Count > 0 ? NewDedupRecord(marks) : default;
        if (dedup.Record is not null)
        {
            writes.Add(_storage.WriteStateAsync(DedupName(dedup.Id), _grainId, dedup.Record));
        }

        _meta.State.FirstSegment = FirstLiveSegment(cleared, written);
        if (written is not null)
        {
            _committingCount = written.Count;
            _committingBytes = writtenBytes;
            _meta.State.Counters = _meta.State.Counters with { Published = _meta.State.Counters.Published + written.Count };
            if (_meta.State.LiveCounted)
            {
                _meta.State.Live += written.Count;
            }

            if (_meta.State.BytesCounted)
            {
                _meta.State.LiveBytes += writtenBytes;
            }
        }

        try
        {
            if (twoPhase)
            {
                await Task.WhenAll(writes);
                writes.Clear();
            }

            writes.Add(_storage.WriteStateAsync(MetaRecord, _grainId, _meta));
            await Task.WhenAll(writes);
        }
        catch (Exception exception)
        {
            _committingCount = 0;
            _committingBytes = 0;
            var correlationId = ClientSafeErrors.NewCorrelationId();
            LogCommitFailed(exception, _grainId, appends.Count, dirty.Count, correlationId);
            if (IsEtagConflict(exception))
            {
                _listener.OnLogTakenOver();
            }

            if (written is not null)
            {
                _meta.State.Counters = _meta.State.Counters with { Published = _meta.State.Counters.Published - written.Count };
                if (_meta.State.LiveCounted)
                {
                    _meta.State.Live -= written.Count;
                }

                if (_meta.State.BytesCounted)
                {
                    _meta.State.LiveBytes -= writtenBytes;
                }

                _abandonedSegments.Add(written.Id);
            }

            if (dedup.Record is not null)
            {
                // Its id is not reused (a write of it may still land); the next commit deletes it before its own metadata.
                _abandonedDedup.Add(dedup.Id);
            }

            RestorePrunedDedup(pruned);

            foreach (var id in dirty)
            {
                if (_segments.ContainsKey(id))
                {
                    _dirtySegments.Add(id);
                }
            }

            _metaDirty = true;
            var error = ClientSafeErrors.FromStorage(exception, "store the change", correlationId);
            foreach (var append in appends)
            {
                append.Completion.TrySetException(error);
            }

            settleWaiters.TrySetException(error);
            return false;
        }

        _committingCount = 0;
        _committingBytes = 0;
        foreach (var segment in cleared)
        {
            Forget(segment);
        }

        DedupCommitted(dedup, pruned);

        if (written is not null)
        {
            var entries = new List<LogEntry>(written.Count);
            Register(written, entries);
            _listener.OnCommitted(entries);
            _resident.Trim();
        }

        foreach (var append in appends)
        {
            append.Completion.TrySetResult();
        }

        settleWaiters.TrySetResult();
        return true;
    }

    /// <summary>
    /// Lowest segment id still live after this commit. Walks the sorted segments only past those being
    /// deleted now, so a commit costs nothing per older live segment: publish cost stays independent of depth.
    /// </summary>
    private long FirstLiveSegment(List<Segment> cleared, Segment? written)
    {
        var clearedIds = cleared.Count == 0 ? null : cleared.Select(c => c.Id).ToHashSet();
        foreach (var id in _segments.Keys)
        {
            if (clearedIds is null || !clearedIds.Contains(id))
            {
                return id;
            }
        }

        return written?.Id ?? _meta.State.NextSegment;
    }

    private List<PendingAppend> TakeAppends()
    {
        var taken = new List<PendingAppend>();
        var bytes = 0;
        var count = 0;
        foreach (var append in _pendingAppends)
        {
            if (taken.Count > 0 && (bytes >= _options.SegmentMaxBytes || count >= _options.SegmentMaxMessages))
            {
                break;
            }

            taken.Add(append);
            count += append.Messages.Count;
            foreach (var message in append.Messages)
            {
                bytes += message.ApproximateSize;
            }
        }

        _pendingAppends.RemoveRange(0, taken.Count);
        return taken;
    }

    /// <summary>Deletes every record of the log but the metadata, which keeps the numbering so that nothing is reused.</summary>
    public async Task DeleteAllAsync()
    {
        await _recovery;
        await CommitAsync();
        var deletes = _segments.Values.Select(DeleteSegmentAsync).ToList();
        await Task.WhenAll(deletes);
        _segments.Clear();
        _resident.Clear();
        _tracked = 0;
        _trackedBytes = 0;
        await DeleteAllDedupAsync();
        _meta.State.FirstSegment = _meta.State.NextSegment;
        _meta.State.Live = 0;
        _meta.State.LiveCounted = true;
        _meta.State.LiveBytes = 0;
        _meta.State.BytesCounted = true;
        _meta.State.Created = false;
        await _storage.WriteStateAsync(MetaRecord, _grainId, _meta);
    }

    private async Task<Segment?> LoadSegmentAsync(long id)
    {
        var record = new StoredRecord<SegmentRecord>();
        await _storage.ReadStateAsync(SegmentName(id), _grainId, record);
        if (!record.RecordExists)
        {
            return null;
        }

        var state = new StoredRecord<SegmentStateRecord>();
        await _storage.ReadStateAsync(StateName(id), _grainId, state);
        var segment = new Segment(id, record, state);
        segment.LoadSettled(state.State.Settled);
        return segment;
    }

    /// <summary>
    /// A segment at or past NextSegment was written by a commit whose metadata never landed: its publishers were
    /// told it failed, so it is not part of the log and is deleted. Its sequence numbers are not handed out again:
    /// the metadata is moved past them first, so a crash during the clean-up cannot bring them back.
    /// </summary>
    private async Task DeleteUncommittedSegmentsAsync()
    {
        var uncommitted = new List<StoredRecord<SegmentRecord>>();
        for (var id = _meta.State.NextSegment; ; id++)
        {
            var record = new StoredRecord<SegmentRecord>();
            await _storage.ReadStateAsync(SegmentName(id), _grainId, record);
            if (!record.RecordExists)
            {
                break;
            }

            uncommitted.Add(record);
        }

        var highest = uncommitted.SelectMany(r => r.State.Messages).Select(m => m.Sequence).DefaultIfEmpty(0).Max();
        if (highest >= _meta.State.NextSequence)
        {
            _meta.State.NextSequence = highest + 1;
            await _storage.WriteStateAsync(MetaRecord, _grainId, _meta);
        }

        for (var i = 0; i < uncommitted.Count; i++)
        {
            var id = _meta.State.NextSegment + i;
            await _storage.ClearStateAsync(SegmentName(id), _grainId, uncommitted[i]);
            LogDeletedUncommitted(_grainId, id);
        }
    }

    private async Task DeleteSegmentAsync(Segment segment)
    {
        if (segment.State.RecordExists)
        {
            await _storage.ClearStateAsync(StateName(segment.Id), _grainId, segment.State);
        }

        await _storage.ClearStateAsync(SegmentName(segment.Id), _grainId, segment.Record);
    }

    /// <summary>Deletes a record a failed commit may or may not have written.</summary>
    private async Task ClearAbandonedAsync<T>(string name)
        where T : class, new()
    {
        var record = new StoredRecord<T>();
        await _storage.ReadStateAsync(name, _grainId, record);
        if (record.RecordExists)
        {
            await _storage.ClearStateAsync(name, _grainId, record);
        }
    }

    private static string SegmentName(long id) => "s" + id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string StateName(long id) => "a" + id.ToString(System.Globalization.CultureInfo.InvariantCulture);

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

    [LoggerMessage(Level = LogLevel.Information, Message = "Log of {GrainId} loaded: {Live} live messages in the first {Segments} segments; {Pending} segment ids left to recover in the background")]
    private partial void LogLoaded(GrainId grainId, int live, int segments, int pending);

    [LoggerMessage(Level = LogLevel.Information, Message = "Log of {GrainId} recovered: {Recovered} more live messages read in the background, {Live} live in all, {Resident} segments in memory")]
    private partial void LogRecovered(GrainId grainId, int recovered, int live, int resident);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Log of {GrainId}: the stored count of live messages was {Stored}, the segments hold {Live}; corrected (a commit was cut short by a crash)")]
    private partial void LogCountCorrected(GrainId grainId, long stored, long live);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Log of {GrainId}: reading segments from {Segment} on failed; retrying in {Delay}")]
    private partial void LogRecoveryReadFailed(Exception exception, GrainId grainId, long segment, TimeSpan delay);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Log of {GrainId}: reading back segment {Segment} failed [correlation id {CorrelationId}]; its messages wait until a later read succeeds")]
    private partial void LogPageInFailed(Exception exception, GrainId grainId, long segment, string correlationId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Commit of {GrainId} failed ({Appends} appends, {Segments} settled segments) [correlation id {CorrelationId}]; callers get a broker error with this id and settles are retried")]
    private partial void LogCommitFailed(Exception exception, GrainId grainId, int appends, int segments, string correlationId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Log of {GrainId}: deleted uncommitted segment {Segment}")]
    private partial void LogDeletedUncommitted(GrainId grainId, long segment);

    private sealed class PendingAppend(IReadOnlyList<StoredMessage> messages, IReadOnlyList<DedupMark>? marks)
    {
        public IReadOnlyList<StoredMessage> Messages { get; } = messages;

        public IReadOnlyList<DedupMark>? Marks { get; } = marks;

        public TaskCompletionSource Completion { get; } = NewWaiter();
    }
}
