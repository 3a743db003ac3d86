using System.Diagnostics;
using System.Globalization;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Server.Log;
using OrleansBroker.Server.Queues.Limits;

namespace OrleansBroker.Server.Queues.Publishing;

/// <summary>
/// The way in: stamps new messages (sequence, enqueue time, absolute schedule and time to live), keeps a producer id
/// published within the dedup window stored once, and answers each publish only once its messages are durable. A partition
/// added by growth also asks its source partition about ids it does not know, for the dedup window after the growth.
/// </summary>
/// <remarks>
/// <c>growthSource</c>: The partition this one was grown from (valid when <see cref="LogMeta.GrownFrom"/> is set).
/// </remarks>
internal sealed class Publisher(QueueState queue, LengthLimit limit, Func<IQueuePartitionGrain> growthSource)
{
    /// <summary>Producer ids seen within the dedup window, with the receipts they got.</summary>
    public Deduplicator Dedup { get; } = new();

    /// <summary>The last append handed to the log: appends complete in order, so awaiting it waits for every earlier one.</summary>
    public Task LastAppend { get; private set; } = Task.CompletedTask;

    /// <summary>
    /// Stores the messages that are new and returns a receipt for each: a repeat of a producer id within the dedup window
    /// (also within this batch) gets the first publish's receipt and stores nothing.
    /// </summary>
    public async Task<IReadOnlyList<PublishReceipt>> AppendAsync(IReadOnlyList<BrokerMessage> messages, bool deduplicate)
    {
        var started = Stopwatch.GetTimestamp();
        var atSource = deduplicate && InGrowthDedupWindow() ? await FindAtGrowthSourceAsync(messages) : null;
        var now = queue.Time.GetUtcNow();
        var window = deduplicate ? queue.Options.DeduplicationWindow : TimeSpan.Zero;
        var receipts = new PublishReceipt?[messages.Count];
        var sort = Sort(messages, now, window, atSource, receipts);

        // Checked before anything is stamped or marked: a refused publish leaves no trace.
        limit.CheckRoom(sort.Fresh.Count, sort.FreshBytes);
        var stored = new StoredMessage[sort.Fresh.Count];
        List<DedupMark>? marks = null;
        for (var f = 0; f < sort.Fresh.Count; f++)
        {
            var message = messages[sort.Fresh[f]];
            stored[f] = Stamp(message, now);
            receipts[sort.Fresh[f]] = new PublishReceipt(stored[f].MessageId, stored[f].Sequence);
            if (window > TimeSpan.Zero && message.Id is not null)
            {
                (marks ??= []).Add(new DedupMark(message.Id, stored[f].Sequence, now.UtcTicks));
            }
        }

        for (var i = 0; i < messages.Count; i++)
        {
            receipts[i] ??= receipts[sort.InBatch![messages[i].Id!]];
        }

        if (stored.Length > 0)
        {
            await StoreAsync(stored, marks, sort.FreshBytes);
            queue.Metrics.Published(stored.Length, started);
        }

        if (sort.Earlier is not null)
        {
            // A repeat is confirmed only once the first publish is durable; if that failed, so does this call, and a retry stores it.
            await Task.WhenAll(sort.Earlier);
        }

        return receipts!;
    }

    /// <summary>The receipts of the ids published here within the dedup window (or at the growth source, for a grown partition).</summary>
    public async Task<IReadOnlyList<PublishReceipt>> FindPublishedAsync(IReadOnlyList<string> ids)
    {
        var since = (queue.Time.GetUtcNow() - queue.Options.DeduplicationWindow).UtcTicks;
        var found = new List<PublishReceipt>();
        var missing = new List<string>();
        foreach (var id in ids)
        {
            if (Dedup.TryFind(id, since, out var mark) && await IsStoredAsync(mark))
            {
                found.Add(new PublishReceipt(id, mark.Sequence));
            }
            else
            {
                missing.Add(id);
            }
        }

        if (missing.Count > 0 && InGrowthDedupWindow())
        {
            found.AddRange(await growthSource().FindPublished(missing));
        }

        return found;
    }

    /// <summary>A producer's batch: its size, and each message (<see cref="MessageValidator"/>).</summary>
    public static void ValidatePublish(IReadOnlyList<BrokerMessage> messages, int maxMessageBytes)
    {
        ValidateBatch(messages);
        foreach (var message in messages)
        {
            MessageValidator.Validate(message, maxMessageBytes);
        }
    }

    /// <summary>A batch from the broker itself (dead letters, a redrive): its size only.</summary>
    public static void ValidateBatch(IReadOnlyList<BrokerMessage> messages)
    {
        if (messages is null || messages.Count == 0 || messages.Count > BrokerLimits.MaxBatchCount)
        {
            throw new BrokerException(BrokerErrorCode.InvalidBatch,
                $"A publish batch holds 1 to {BrokerLimits.MaxBatchCount} messages; this one holds {messages?.Count ?? 0}.");
        }
    }

    /// <summary>Which messages are new, which repeat an id already published (their receipts filled in), and what to wait for.</summary>
    private Sorted Sort(IReadOnlyList<BrokerMessage> messages, DateTimeOffset now, TimeSpan window, Dictionary<string, PublishReceipt>? atSource, PublishReceipt?[] receipts)
    {
        var sorted = new Sorted(new List<int>(messages.Count));
        for (var i = 0; i < messages.Count; i++)
        {
            var message = messages[i];
            CheckSchedule(message, now);
            if (window > TimeSpan.Zero && message.Id is { } id)
            {
                if (Dedup.TryFind(id, (now - window).UtcTicks, out var mark))
                {
                    receipts[i] = new PublishReceipt(id, mark.Sequence);
                    if (mark.Pending is { } pending)
                    {
                        (sorted.Earlier ??= []).Add(pending);
                    }

                    continue;
                }

                if (atSource is not null && atSource.TryGetValue(id, out var before))
                {
                    receipts[i] = before;
                    continue;
                }

                // A repeat inside the batch is filled in from the first one once that has its sequence.
                if (!(sorted.InBatch ??= new(StringComparer.Ordinal)).TryAdd(id, i))
                {
                    continue;
                }
            }

            sorted.Fresh.Add(i);
            sorted.FreshBytes += message.Body.Length;
        }

        return sorted;
    }

    private async Task StoreAsync(StoredMessage[] stored, List<DedupMark>? marks, long bytes)
    {
        var append = queue.Log.AppendAsync(stored, marks);
        LastAppend = append;
        foreach (var mark in marks ?? [])
        {
            Dedup.Add(mark, append);
        }

        limit.Appending(stored.Length, bytes);
        try
        {
            await append;
            Dedup.Committed(marks ?? []);
        }
        catch
        {
            Dedup.Failed(marks ?? []);
            throw;
        }
        finally
        {
            limit.Appending(-stored.Length, -bytes);
        }
    }

    /// <summary>Whether the publish that set <paramref name="mark"/> is stored (waits for its commit); false if that failed and the id is free.</summary>
    private static async Task<bool> IsStoredAsync(Deduplicator.Mark mark)
    {
        if (mark.Pending is not { } pending)
        {
            return true;
        }

        try
        {
            await pending;
            return true;
        }
        catch (BrokerException)
        {
            return false;
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

    /// <summary>The stored form: sequence and enqueue time stamped, schedule and time to live made absolute.</summary>
    private StoredMessage Stamp(BrokerMessage message, DateTimeOffset now)
    {
        var notBefore = message.Delay is { } delay && delay > TimeSpan.Zero ? (now + delay).UtcTicks
            : message.DeliverAt is { } at && at > now ? at.UtcTicks
            : 0;

        // The time to live counts from when the message becomes deliverable, so a scheduled message is not born expired.
        var expiresAt = (message.TimeToLive ?? queue.Options.DefaultTimeToLive) is { } ttl
            ? Math.Max(notBefore, now.UtcTicks) + ttl.Ticks
            : 0;

        return new StoredMessage(queue.Log.NextSequence(), message.Id ?? Guid.CreateVersion7().ToString("N", CultureInfo.InvariantCulture),
            message.Body, message.ContentType, message.Headers, message.RoutingKey, now, notBefore, expiresAt, (byte)message.Priority, message.OrderingKey);
    }

    /// <summary>Whether ids this partition does not know may have been accepted by its source before the growth.</summary>
    /// <remarks>On the publish path: the clock is read only on a partition added by growth.</remarks>
    private bool InGrowthDedupWindow()
    {
        var meta = queue.Log.Meta;
        return meta.GrownFrom >= 0 && queue.Options.DeduplicationWindow > TimeSpan.Zero && queue.Time.GetUtcNow() - meta.GrownAt < queue.Options.DeduplicationWindow;
    }

    /// <summary>The receipts the source partition holds for the ids of <paramref name="messages"/>; null when none.</summary>
    private async Task<Dictionary<string, PublishReceipt>?> FindAtGrowthSourceAsync(IReadOnlyList<BrokerMessage> messages)
    {
        var ids = messages.Where(m => m.Id is not null).Select(m => m.Id!).Distinct(StringComparer.Ordinal).ToList();
        if (ids.Count == 0)
        {
            return null;
        }

        var found = await growthSource().FindPublished(ids);
        return found.Count == 0 ? null : found.ToDictionary(r => r.MessageId, StringComparer.Ordinal);
    }

    private sealed class Sorted(List<int> fresh)
    {
        /// <summary>Indexes of the messages to store.</summary>
        public List<int> Fresh { get; } = fresh;

        public long FreshBytes { get; set; }

        /// <summary>Commits of earlier publishes of ids repeated here, not landed yet.</summary>
        public List<Task>? Earlier { get; set; }

        /// <summary>The first index of each id in the batch.</summary>
        public Dictionary<string, int>? InBatch { get; set; }
    }
}
