using Microsoft.Extensions.Logging;
using Orleans.Storage;

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
/// next one; an append completes only after the commit holding it succeeded.</item>
/// </list>
/// Not thread-safe: it runs on its grain's scheduler (reentrant turns, one at a time).
/// </summary>
internal sealed partial class MessageLog
{
    private const string MetaRecord = "meta";
    private const int LoadParallelism = 16;

    private readonly IGrainStorage _storage;
    private readonly GrainId _grainId;
    private readonly MessageLogOptions _options;
    private readonly ILogger _logger;
    private readonly Action<IReadOnlyList<LogEntry>> _onCommitted;
    private readonly Dictionary<long, LogEntry> _entries = [];
    private readonly SortedDictionary<long, Segment> _segments = [];
    private readonly List<PendingAppend> _pendingAppends = [];
    private readonly HashSet<long> _dirtySegments = [];
    private readonly HashSet<long> _abandonedSegments = [];
    private StoredRecord<LogMeta> _meta = new();
    private TaskCompletionSource _settleWaiters = NewWaiter();
    private bool _metaDirty;
    private bool _flushing;

    public MessageLog(IGrainStorage storage, GrainId grainId, MessageLogOptions options, ILogger logger, Action<IReadOnlyList<LogEntry>> onCommitted)
    {
        _storage = storage;
        _grainId = grainId;
        _options = options;
        _logger = logger;
        _onCommitted = onCommitted;
    }

    /// <summary>The metadata in force (in memory; persisted with the next commit once changed through this class).</summary>
    public LogMeta Meta => _meta.State;

    /// <summary>Live messages by sequence.</summary>
    public IReadOnlyDictionary<long, LogEntry> Entries => _entries;

    /// <summary>Number of segment records currently live.</summary>
    public int SegmentCount => _segments.Count;

    /// <summary>Whether a commit is being written or waiting to be.</summary>
    public bool HasPendingWork => _flushing || HasChanges;

    private bool HasChanges => _pendingAppends.Count > 0 || _dirtySegments.Count > 0 || _metaDirty || _abandonedSegments.Count > 0;

    /// <summary>Reads the metadata and every live segment; returns the live messages in sequence order.</summary>
    public async Task<IReadOnlyList<LogEntry>> LoadAsync()
    {
        _meta = new StoredRecord<LogMeta>();
        await _storage.ReadStateAsync(MetaRecord, _grainId, _meta);
        if (!_meta.RecordExists)
        {
            return [];
        }

        var ids = new List<long>();
        for (var id = _meta.State.FirstSegment; id < _meta.State.NextSegment; id++)
        {
            ids.Add(id);
        }

        foreach (var chunk in ids.Chunk(LoadParallelism))
        {
            var loaded = await Task.WhenAll(chunk.Select(LoadSegmentAsync));
            foreach (var segment in loaded.OfType<Segment>())
            {
                _segments[segment.Id] = segment;
            }
        }

        await DeleteUncommittedSegmentsAsync();

        var live = new List<LogEntry>();
        foreach (var segment in _segments.Values)
        {
            for (var i = 0; i < segment.Messages.Count; i++)
            {
                if (!segment.IsSettled(i))
                {
                    var message = segment.Messages[i];
                    var entry = new LogEntry(message, segment.Id, segment.State.State.Attempts.GetValueOrDefault(message.Sequence));
                    _entries[message.Sequence] = entry;
                    live.Add(entry);
                }
            }
        }

        LogLoaded(_grainId, live.Count, _segments.Count);
        return live;
    }

    /// <summary>Hands out the next sequence number.</summary>
    public long NextSequence() => _meta.State.NextSequence++;

    /// <summary>
    /// Queues <paramref name="messages"/> for the next commit; completes when they are durable, after
    /// the committed-callback has seen them.
    /// </summary>
    public Task AppendAsync(IReadOnlyList<StoredMessage> messages)
    {
        var pending = new PendingAppend(messages);
        _pendingAppends.Add(pending);
        EnsureFlushing();
        return pending.Completion.Task;
    }

    /// <summary>Marks a live message settled (acked, dead-lettered, purged). Durable with the next commit (<see cref="CommitAsync"/>).</summary>
    public bool Settle(long sequence)
    {
        if (!_entries.Remove(sequence, out var entry))
        {
            return false;
        }

        var segment = _segments[entry.Segment];
        segment.MarkSettled(sequence);
        _dirtySegments.Add(segment.Id);
        _metaDirty = true;
        return true;
    }

    /// <summary>Records a delivery attempt. Attempts above the first are persisted with the next commit, not awaited.</summary>
    public void RecordAttempt(LogEntry entry)
    {
        entry.Attempts++;
        if (entry.Attempts > 1)
        {
            _segments[entry.Segment].State.State.Attempts[entry.Message.Sequence] = entry.Attempts;
            _dirtySegments.Add(entry.Segment);
            EnsureFlushing();
        }
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

        var waiter = _settleWaiters.Task;
        EnsureFlushing();
        return waiter;
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
                if (!await FlushOnceAsync())
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
            _flushing = false;
        }
    }

    /// <summary>Starts a commit of whatever changes wait (a failed commit's leftovers, lazily persisted attempts); awaits nothing.</summary>
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
        var dirty = _dirtySegments.ToList();
        _dirtySegments.Clear();
        _metaDirty = false;

        var writes = new List<Task>();
        Segment? written = null;
        if (appends.Count > 0)
        {
            var messages = new List<StoredMessage>();
            foreach (var append in appends)
            {
                messages.AddRange(append.Messages);
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
            writes.Add(ClearAbandonedAsync(id));
        }

        _meta.State.FirstSegment = FirstLiveSegment(cleared, written);
        if (written is not null)
        {
            _meta.State.Counters = _meta.State.Counters with { Published = _meta.State.Counters.Published + written.Messages.Count };
        }

        writes.Add(_storage.WriteStateAsync(MetaRecord, _grainId, _meta));

        try
        {
            await Task.WhenAll(writes);
        }
        catch (Exception exception)
        {
            LogCommitFailed(exception, _grainId, appends.Count, dirty.Count);
            if (written is not null)
            {
                _meta.State.Counters = _meta.State.Counters with { Published = _meta.State.Counters.Published - written.Messages.Count };
                _abandonedSegments.Add(written.Id);
            }

            foreach (var id in dirty)
            {
                if (_segments.ContainsKey(id))
                {
                    _dirtySegments.Add(id);
                }
            }

            _metaDirty = true;
            var error = new Errors.BrokerException(Errors.BrokerErrorCode.StorageUnavailable,
                $"The broker could not store the change: {exception.GetBaseException().Message}", exception);
            foreach (var append in appends)
            {
                append.Completion.TrySetException(error);
            }

            settleWaiters.TrySetException(error);
            return false;
        }

        foreach (var segment in cleared)
        {
            _segments.Remove(segment.Id);
        }

        if (written is not null)
        {
            _segments[written.Id] = written;
            var entries = new List<LogEntry>(written.Messages.Count);
            foreach (var message in written.Messages)
            {
                var entry = new LogEntry(message, written.Id, 0);
                _entries[message.Sequence] = entry;
                entries.Add(entry);
            }

            _onCommitted(entries);
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
        await CommitAsync();
        var deletes = _segments.Values.Select(DeleteSegmentAsync).ToList();
        await Task.WhenAll(deletes);
        _segments.Clear();
        _entries.Clear();
        _meta.State.FirstSegment = _meta.State.NextSegment;
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

    private async Task DeleteUncommittedSegmentsAsync()
    {
        // A segment at or past NextSegment was written by a commit whose metadata never landed:
        // its publishers were told it failed, so it is not part of the log.
        for (var id = _meta.State.NextSegment; ; id++)
        {
            var record = new StoredRecord<SegmentRecord>();
            await _storage.ReadStateAsync(SegmentName(id), _grainId, record);
            if (!record.RecordExists)
            {
                return;
            }

            await _storage.ClearStateAsync(SegmentName(id), _grainId, record);
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

    private async Task ClearAbandonedAsync(long id)
    {
        var record = new StoredRecord<SegmentRecord>();
        await _storage.ReadStateAsync(SegmentName(id), _grainId, record);
        if (record.RecordExists)
        {
            await _storage.ClearStateAsync(SegmentName(id), _grainId, record);
        }
    }

    private static string SegmentName(long id) => "s" + id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static string StateName(long id) => "a" + id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private static TaskCompletionSource NewWaiter() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    [LoggerMessage(Level = LogLevel.Information, Message = "Log of {GrainId} loaded: {Live} live messages in {Segments} segments")]
    private partial void LogLoaded(GrainId grainId, int live, int segments);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Commit of {GrainId} failed ({Appends} appends, {Segments} settled segments); callers get StorageUnavailable and settles are retried")]
    private partial void LogCommitFailed(Exception exception, GrainId grainId, int appends, int segments);

    [LoggerMessage(Level = LogLevel.Information, Message = "Log of {GrainId}: deleted uncommitted segment {Segment}")]
    private partial void LogDeletedUncommitted(GrainId grainId, long segment);

    private sealed class PendingAppend(IReadOnlyList<StoredMessage> messages)
    {
        public IReadOnlyList<StoredMessage> Messages { get; } = messages;

        public TaskCompletionSource Completion { get; } = NewWaiter();
    }
}
