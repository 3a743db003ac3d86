using Microsoft.Extensions.Logging;
using OrleansBroker.Server.Errors;

namespace OrleansBroker.Server.Log;

/// <summary>
/// Reads paged-out bodies back: a message delivery reaches is paged in in the background (its listener hears
/// <see cref="IMessageLogListener.OnPagedIn"/>), and the next segments are read ahead while delivery works
/// through the current one. One read per segment at a time; a failed read is logged and asked for again by
/// the next delivery.
/// </summary>
internal sealed partial class SegmentPager(LogRecordStore store, SegmentIndex index, IMessageLogListener listener, ILogger logger)
{
    private const int ReadAheadSegments = 2;
    private long _readAheadFrom = -1;

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
            foreach (var next in index.After(segment.Id, ReadAheadSegments))
            {
                if (!next.IsResident)
                {
                    _ = PageInAsync(next);
                }
            }
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
        // OnPagedIn would dispatch from inside the dispatch that asked for the page-in (TryGetMessage, read-ahead)
        // while that one holds a message it has peeked at.
        await Task.Yield();
        try
        {
            var name = LogRecordStore.SegmentName(segment.Id);
            var record = await store.ReadAsync<SegmentRecord>(name);
            if (!record.RecordExists)
            {
                throw new InvalidOperationException($"Segment record {name} is missing from storage although messages in it are live.");
            }

            segment.PageIn = null;
            if (!segment.IsResident && index.Holds(segment))
            {
                segment.Restore(record.State);
                index.Restored(segment);
            }

            read.SetResult(record.State.Messages);
            listener.OnPagedIn();
            index.TrimResident();
        }
        catch (Exception exception)
        {
            segment.PageIn = null;
            var correlationId = ClientSafeErrors.NewCorrelationId();
            LogPageInFailed(exception, store.GrainId, segment.Id, correlationId);
            read.SetException(ClientSafeErrors.FromStorage(exception, "read stored messages", correlationId));

            // Observed here: a read-ahead nobody awaits is simply asked for again by the next dispatch.
            _ = read.Task.Exception;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Log of {GrainId}: reading back segment {Segment} failed [correlation id {CorrelationId}]; its messages wait until a later read succeeds")]
    private partial void LogPageInFailed(Exception exception, GrainId grainId, long segment, string correlationId);
}
