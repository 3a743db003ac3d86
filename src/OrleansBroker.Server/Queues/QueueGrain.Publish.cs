using System.Globalization;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Log;

namespace OrleansBroker.Server.Queues;

internal sealed partial class QueueGrain
{
    private readonly Deduplicator _dedup = new();

    /// <summary>Messages being committed, not yet in the log's live count (length limits count them).</summary>
    private long _appendingCount;
    private long _appendingBytes;

    public async Task<PublishReceipt> Publish(BrokerMessage message)
    {
        EnsureCreated();
        MessageValidator.Validate(message, _options.MaxMessageBytes);
        _diskAlarm.ThrowIfRaised();
        return (await StoreAsync([message], deduplicate: true))[0];
    }

    public async Task<IReadOnlyList<PublishReceipt>> PublishBatch(IReadOnlyList<BrokerMessage> messages)
    {
        EnsureCreated();
        ValidateBatch(messages);
        foreach (var message in messages)
        {
            MessageValidator.Validate(message, _options.MaxMessageBytes);
        }

        _diskAlarm.ThrowIfRaised();
        return await StoreAsync(messages, deduplicate: true);
    }

    public async Task AcceptDeadLetters(IReadOnlyList<BrokerMessage> messages)
    {
        if (!_log.Meta.Created)
        {
            await CreateCore(QueueOptions.ForDeadLetterQueue());
        }

        ValidateBatch(messages);
        await AppendAsync(messages, deduplicate: false);
    }

    public async Task<IReadOnlyList<PublishReceipt>> AcceptRedriven(IReadOnlyList<BrokerMessage> messages)
    {
        EnsureCreated();
        ValidateBatch(messages);

        // Not deduplicated: the redriven message has the id of its first publish, which is likely still in the window.
        return await StoreAsync(messages, deduplicate: false);
    }

    /// <summary>
    /// Stores the messages that are new and returns a receipt for each: a repeat of a producer id within the
    /// dedup window (also within this batch) gets the first publish's receipt and stores nothing.
    /// </summary>
    private async Task<IReadOnlyList<PublishReceipt>> AppendAsync(IReadOnlyList<BrokerMessage> messages, bool deduplicate)
    {
        // A partition added by growth: an id unknown here may have been accepted by its source before the growth.
        var atSource = deduplicate && InGrowthDedupWindow() ? await FindAtGrowthSourceAsync(messages) : null;
        var now = _time.GetUtcNow();
        var window = deduplicate ? Options.DeduplicationWindow : TimeSpan.Zero;
        var receipts = new PublishReceipt?[messages.Count];
        List<Task>? earlier = null;
        Dictionary<string, int>? inBatch = null;
        var fresh = new List<int>(messages.Count);
        long freshBytes = 0;
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            CheckSchedule(message, now);
            if (window > TimeSpan.Zero && message.Id is { } id)
            {
                if (_dedup.TryFind(id, (now - window).UtcTicks, out var mark))
                {
                    receipts[i] = new PublishReceipt(id, mark.Sequence);
                    if (mark.Pending is { } pending)
                    {
                        (earlier ??= []).Add(pending);
                    }

                    continue;
                }

                if (atSource is not null && atSource.TryGetValue(id, out var before))
                {
                    receipts[i] = before;
                    continue;
                }

                // A repeat inside the batch is filled in from the first one once that has its sequence.
                if (!(inBatch ??= new(StringComparer.Ordinal)).TryAdd(id, i))
                {
                    continue;
                }
            }

            fresh.Add(i);
            freshBytes += message.Body.Length;
        }

        // Checked before anything is stamped or marked: a refused publish leaves no trace.
        CheckRoom(fresh.Count, freshBytes);

        var stored = new StoredMessage[fresh.Count];
        List<DedupMark>? marks = null;
        for (var f = 0; f < fresh.Count; f++)
        {
            var message = messages[fresh[f]];
            stored[f] = Stamp(message, now);
            receipts[fresh[f]] = new PublishReceipt(stored[f].MessageId, stored[f].Sequence);
            if (window > TimeSpan.Zero && message.Id is not null)
            {
                (marks ??= []).Add(new DedupMark(message.Id, stored[f].Sequence, now.UtcTicks));
            }
        }

        for (var i = 0; i < messages.Count; i++)
        {
            receipts[i] ??= receipts[inBatch![messages[i].Id!]];
        }

        if (stored.Length > 0)
        {
            var append = _log.AppendAsync(stored, marks);
            _lastAppend = append;
            foreach (var mark in marks ?? [])
            {
                _dedup.Add(mark, append);
            }

            _appendingCount += stored.Length;
            _appendingBytes += freshBytes;
            try
            {
                await append;
                _dedup.Committed(marks ?? []);
            }
            catch
            {
                _dedup.Failed(marks ?? []);
                throw;
            }
            finally
            {
                _appendingCount -= stored.Length;
                _appendingBytes -= freshBytes;
            }
        }

        if (earlier is not null)
        {
            // A repeat is confirmed only once the first publish is durable; if that failed, so does this call, and a retry stores it.
            await Task.WhenAll(earlier);
        }

        return receipts!;
    }

    private static void ValidateBatch(IReadOnlyList<BrokerMessage> messages)
    {
        if (messages is null || messages.Count == 0 || messages.Count > BrokerLimits.MaxBatchCount)
        {
            throw new BrokerException(BrokerErrorCode.InvalidBatch,
                $"A publish batch holds 1 to {BrokerLimits.MaxBatchCount} messages; this one holds {messages?.Count ?? 0}.");
        }
    }

    private static void CheckSchedule(BrokerMessage message, DateTimeOffset now)
    {
        if (message.DeliverAt is { } at && at - now > BrokerLimits.MaxScheduleDelay)
        {
            throw new BrokerException(BrokerErrorCode.InvalidMessage,
                $"DeliverAt {at:O} is more than {BrokerLimits.MaxScheduleDelay.TotalDays} days ahead of the broker's clock ({now:O}).");
        }
    }

    /// <summary>With <see cref="OverflowPolicy.RejectPublish"/>: refuses a publish that would take the queue past its length or byte limit.</summary>
    private void CheckRoom(int count, long bytes)
    {
        var options = Options;
        if (count == 0 || !options.HasLengthLimit || options.Overflow != OverflowPolicy.RejectPublish)
        {
            return;
        }

        var holding = _log.LiveCount + _appendingCount;
        if (options.MaxLength is { } maxLength && holding + count > maxLength)
        {
            throw new BrokerException(BrokerErrorCode.QueueFull,
                $"Queue '{_name}' holds {holding} of its {maxLength} messages (MaxLength); this publish of {count} was refused, nothing of it stored.");
        }

        var holdingBytes = _log.LiveBytes + _appendingBytes;
        if (options.MaxBytes is { } maxBytes && holdingBytes + bytes > maxBytes)
        {
            throw new BrokerException(BrokerErrorCode.QueueFull,
                $"Queue '{_name}' holds {holdingBytes} of its {maxBytes} body bytes (MaxBytes); this publish of {bytes} bytes was refused, nothing of it stored.");
        }
    }

    /// <summary>The stored form: sequence and enqueue time stamped, schedule and time to live made absolute.</summary>
    private StoredMessage Stamp(BrokerMessage message, DateTimeOffset now)
    {
        var notBefore = message.Delay is { } delay && delay > TimeSpan.Zero ? (now + delay).UtcTicks
            : message.DeliverAt is { } at && at > now ? at.UtcTicks
            : 0;

        // The time to live counts from when the message becomes deliverable, so a scheduled message is not born expired.
        var expiresAt = (message.TimeToLive ?? Options.DefaultTimeToLive) is { } ttl
            ? Math.Max(notBefore, now.UtcTicks) + ttl.Ticks
            : 0;

        return new StoredMessage(
            _log.NextSequence(),
            message.Id ?? Guid.CreateVersion7().ToString("N", CultureInfo.InvariantCulture),
            message.Body,
            message.ContentType,
            message.Headers,
            message.RoutingKey,
            now,
            notBefore,
            expiresAt,
            (byte)message.Priority,
            message.OrderingKey);
    }

    /// <summary>Called by the log once a commit is durable: the new messages become deliverable (or wait for their time), in sequence order.</summary>
    void IMessageLogListener.OnCommitted(IReadOnlyList<LogEntry> entries)
    {
        var now = _time.GetUtcNow();
        foreach (var entry in entries)
        {
            WatchExpiry(entry);
            if (entry.NotBefore > now.UtcTicks)
            {
                Delay(entry, new DateTimeOffset(entry.NotBefore, TimeSpan.Zero));
            }
            else
            {
                entry.NotBefore = 0;
                _ready.MakeReady(entry);
            }
        }

        EnforceLengthLimit();
        Dispatch();
    }

    /// <summary>Older messages read back by recovery: ready again (their leases ended with the previous activation), or dead-lettered if out of attempts.</summary>
    public void OnRecovered(IReadOnlyList<LogEntry> entries)
    {
        if (entries.Count > 0)
        {
            // Recovery reads in sequence order: every live message up to here has been read.
            _ready.RecoveredThrough = Math.Max(_ready.RecoveredThrough, entries[^1].Sequence);
        }

        foreach (var entry in entries)
        {
            WatchExpiry(entry);
            if (!TryRestoreLease(entry))
            {
                ReturnToReady(entry, recovered: true);
            }
        }

        // A restart may have come between storing a publish and dropping what it pushed out: done again now.
        EnforceLengthLimit();
        Dispatch();
    }

    void IMessageLogListener.OnPagedIn() => Dispatch();

    void IMessageLogListener.OnLogTakenOver()
    {
        // Storage refused a write because the log changed under this activation: keep failing every commit (callers get
        // StorageUnavailable and retry) or step down, so the next call activates the queue again from what is stored.
        LogTakenOver(_name);
        DeactivateOnIdle();
    }
}
