using System.Text;
using Orleans.Storage;
using OrleansBroker.Client;
using OrleansBroker.Delivery;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Log;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Storage;

/// <summary>
/// What the broker needs from a storage backend, run against each one (SQLite file, Azurite, memory):
/// the Orleans grain storage contract the log relies on (absent records, ETags, clears, large records),
/// the reminder table contract, the message log's chunking, settling and recovery on that storage,
/// and a queue deeper than one storage record surviving deactivation.
/// </summary>
public abstract class StorageComplianceTests(StorageBackend backend)
{
    protected StorageBackend Backend { get; } = backend;

    private IGrainStorage Storage => Backend.Storage;

    private IBrokerClient Broker => Backend.Cluster.Broker;

    private static GrainId NewGrainId() => GrainId.Create("obroker-test", Guid.NewGuid().ToString("N"));

    private static SegmentRecord Segment(params string[] ids) =>
        new() { Messages = [.. ids.Select((id, i) => new StoredMessage(i + 1, id, Encoding.UTF8.GetBytes($"body of {id}"), i % 2 == 0 ? "text/plain" : null, i % 2 == 0 ? new Dictionary<string, string> { ["k"] = id } : null, null, DateTimeOffset.UnixEpoch.AddDays(i)))] };

    [Fact]
    public async Task A_missing_record_reads_as_absent()
    {
        var record = new StoredRecord<SegmentRecord>();
        await Storage.ReadStateAsync("s0", NewGrainId(), record);

        Assert.False(record.RecordExists);
        Assert.Null(record.ETag);
        Assert.Empty(record.State.Messages);
    }

    [Fact]
    public async Task A_written_record_reads_back_whole_with_its_etag()
    {
        var grain = NewGrainId();
        var written = new StoredRecord<SegmentRecord> { State = Segment("a", "b", "c") };
        await Storage.WriteStateAsync("s0", grain, written);

        var read = new StoredRecord<SegmentRecord>();
        await Storage.ReadStateAsync("s0", grain, read);

        Assert.True(read.RecordExists);
        Assert.NotNull(written.ETag);
        Assert.Equal(written.ETag, read.ETag);
        AssertSameMessages(written.State.Messages, read.State.Messages);
    }

    [Fact]
    public async Task A_write_with_a_stale_etag_is_rejected_and_the_stored_record_is_kept()
    {
        var grain = NewGrainId();
        var (_, stale) = await WriteTwiceKeepingTheFirstETagAsync(grain);

        await Assert.ThrowsAnyAsync<InconsistentStateException>(() => Storage.WriteStateAsync("meta", grain, stale));

        var read = new StoredRecord<SegmentRecord>();
        await Storage.ReadStateAsync("meta", grain, read);
        Assert.Equal("v2", Assert.Single(read.State.Messages).MessageId);
    }

    /// <summary>Writes "meta" as v1 then v2; returns the record (at v2) and a write of "stale" that still holds v1's ETag.</summary>
    private async Task<(StoredRecord<SegmentRecord> Current, StoredRecord<SegmentRecord> Stale)> WriteTwiceKeepingTheFirstETagAsync(GrainId grain)
    {
        var current = new StoredRecord<SegmentRecord> { State = Segment("v1") };
        await Storage.WriteStateAsync("meta", grain, current);
        var stale = new StoredRecord<SegmentRecord> { State = Segment("stale"), ETag = current.ETag, RecordExists = true };
        current.State = Segment("v2");
        await Storage.WriteStateAsync("meta", grain, current);
        return (current, stale);
    }

    [Fact]
    public async Task A_stale_write_sent_together_with_others_fails_alone_and_the_others_are_stored()
    {
        // Sent at once, so that a backend that commits concurrent writes together (SQLite) has them in one transaction.
        var grain = NewGrainId();
        var (current, stale) = await WriteTwiceKeepingTheFirstETagAsync(grain);
        var others = Enumerable.Range(0, 20).Select(i => new StoredRecord<SegmentRecord> { State = Segment($"other{i}") }).ToList();

        var writes = others.Select((record, i) => Storage.WriteStateAsync($"s{i}", grain, record))
            .Append(Storage.WriteStateAsync("meta", grain, stale))
            .ToList();
        await Assert.ThrowsAnyAsync<InconsistentStateException>(() => Task.WhenAll(writes));

        Assert.Equal(20, writes.Count(w => w.IsCompletedSuccessfully));
        for (var i = 0; i < others.Count; i++)
        {
            var read = new StoredRecord<SegmentRecord>();
            await Storage.ReadStateAsync($"s{i}", grain, read);
            Assert.Equal(others[i].ETag, read.ETag);
            Assert.Equal($"other{i}", Assert.Single(read.State.Messages).MessageId);
        }

        var meta = new StoredRecord<SegmentRecord>();
        await Storage.ReadStateAsync("meta", grain, meta);
        Assert.Equal(current.ETag, meta.ETag);
        Assert.Equal("v2", Assert.Single(meta.State.Messages).MessageId);
    }

    [Fact]
    public async Task Creating_a_record_that_another_writer_created_is_rejected()
    {
        var grain = NewGrainId();
        await Storage.WriteStateAsync("meta", grain, new StoredRecord<SegmentRecord> { State = Segment("first") });

        var second = new StoredRecord<SegmentRecord> { State = Segment("second") };
        await Assert.ThrowsAnyAsync<InconsistentStateException>(() => Storage.WriteStateAsync("meta", grain, second));

        var read = new StoredRecord<SegmentRecord>();
        await Storage.ReadStateAsync("meta", grain, read);
        Assert.Equal("first", Assert.Single(read.State.Messages).MessageId);
    }

    [Fact]
    public async Task A_cleared_record_reads_as_absent_and_can_be_created_again()
    {
        var grain = NewGrainId();
        var record = new StoredRecord<SegmentRecord> { State = Segment("a") };
        await Storage.WriteStateAsync("s7", grain, record);
        await Storage.ClearStateAsync("s7", grain, record);

        var read = new StoredRecord<SegmentRecord>();
        await Storage.ReadStateAsync("s7", grain, read);
        Assert.False(read.RecordExists);

        var again = new StoredRecord<SegmentRecord> { State = Segment("b") };
        await Storage.WriteStateAsync("s7", grain, again);
        await Storage.ReadStateAsync("s7", grain, read);
        Assert.Equal("b", Assert.Single(read.State.Messages).MessageId);
    }

    [Fact]
    public async Task A_full_segment_of_over_one_MiB_round_trips()
    {
        // The default segment bound is 1 MiB and one publish call is never split, so a record may exceed it.
        var grain = NewGrainId();
        var random = new Random(7);
        var messages = Enumerable.Range(1, 1100).Select(i =>
        {
            var body = new byte[1024];
            random.NextBytes(body);
            return new StoredMessage(i, $"m{i}", body, null, null, null, DateTimeOffset.UnixEpoch);
        }).ToList();
        var written = new StoredRecord<SegmentRecord> { State = new SegmentRecord { Messages = messages } };
        await Storage.WriteStateAsync("s0", grain, written);

        var read = new StoredRecord<SegmentRecord>();
        await Storage.ReadStateAsync("s0", grain, read);
        AssertSameMessages(messages, read.State.Messages);
    }

    [Fact]
    public async Task Records_are_kept_apart_by_grain_and_by_name()
    {
        var one = NewGrainId();
        var two = NewGrainId();
        await Storage.WriteStateAsync("s0", one, new StoredRecord<SegmentRecord> { State = Segment("one-s0") });
        await Storage.WriteStateAsync("s1", one, new StoredRecord<SegmentRecord> { State = Segment("one-s1") });
        await Storage.WriteStateAsync("s0", two, new StoredRecord<SegmentRecord> { State = Segment("two-s0") });

        foreach (var (grain, name, expected) in new[] { (one, "s0", "one-s0"), (one, "s1", "one-s1"), (two, "s0", "two-s0") })
        {
            var read = new StoredRecord<SegmentRecord>();
            await Storage.ReadStateAsync(name, grain, read);
            Assert.Equal(expected, Assert.Single(read.State.Messages).MessageId);
        }

        var missing = new StoredRecord<SegmentRecord>();
        await Storage.ReadStateAsync("s1", two, missing);
        Assert.False(missing.RecordExists);
    }

    [Fact]
    public async Task Reminder_rows_are_upserted_found_by_grain_and_hash_range_and_removed_by_etag()
    {
        var reminders = Backend.Reminders;
        var grain = NewGrainId();
        var start = new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc);
        var etag = await reminders.UpsertRow(new ReminderEntry { GrainId = grain, ReminderName = "leases", StartAt = start, Period = TimeSpan.FromMinutes(1) });
        var updated = await reminders.UpsertRow(new ReminderEntry { GrainId = grain, ReminderName = "leases", StartAt = start, Period = TimeSpan.FromMinutes(2) });
        Assert.NotNull(etag);
        Assert.NotEqual(etag, updated);

        var row = await reminders.ReadRow(grain, "leases");
        Assert.NotNull(row);
        Assert.Equal(TimeSpan.FromMinutes(2), row.Period);
        Assert.Equal(start, row.StartAt.ToUniversalTime());
        Assert.Equal(updated, row.ETag);
        Assert.Contains((await reminders.ReadRows(grain)).Reminders, r => r.ReminderName == "leases");
        var hash = grain.GetUniformHashCode();
        Assert.Contains((await reminders.ReadRows(hash - 1, hash)).Reminders, r => r.GrainId == grain);
        Assert.DoesNotContain((await reminders.ReadRows(hash, hash + 1)).Reminders, r => r.GrainId == grain);

        Assert.False(await reminders.RemoveRow(grain, "leases", etag!));
        Assert.True(await reminders.RemoveRow(grain, "leases", updated!));
        Assert.Null(await reminders.ReadRow(grain, "leases"));
    }

    [Fact]
    public async Task The_log_cuts_concurrent_publishes_into_bounded_segments_and_reloads_them_in_order()
    {
        // 4,000 messages of 1 KiB: 4 MiB, far more than one Azure Table entity (1 MiB) could hold.
        var harness = new LogHarness(Storage, new MessageLogOptions(SegmentMaxBytes: 1024 * 1024, SegmentMaxMessages: 500, ResidentBytes: 16 * 1024 * 1024));
        var log = harness.NewLog();
        var published = await harness.RunAsync(async () =>
        {
            await log.LoadAsync();
            var batches = Enumerable.Range(0, 40).Select(_ => LogHarness.Messages(log, 100, bodyBytes: 1024)).ToList();
            await Task.WhenAll(batches.Select(b => log.AppendAsync(b)));
            return batches.SelectMany(b => b).ToList();
        });

        Assert.InRange(log.SegmentCount, 8, 40);
        var reloaded = await harness.ReloadAsync();
        AssertSameMessages(published, reloaded.Select(e => e.Message).ToList());
    }

    [Fact]
    public async Task Settles_survive_a_reload_and_fully_settled_segments_are_deleted()
    {
        var harness = new LogHarness(Storage, new MessageLogOptions(1024 * 1024, SegmentMaxMessages: 100, ResidentBytes: 16 * 1024 * 1024));
        var log = harness.NewLog();
        var expected = await harness.RunAsync(async () =>
        {
            await log.LoadAsync();
            var all = new List<StoredMessage>();
            for (var i = 0; i < 5; i++)
            {
                var batch = LogHarness.Messages(log, 100);
                await log.AppendAsync(batch);
                all.AddRange(batch);
            }

            // All of the first two segments, every other message of the rest.
            var settled = all.Where((m, i) => i < 200 || i % 2 == 0).ToList();
            foreach (var message in settled)
            {
                Assert.True(log.Settle(message.Sequence));
            }

            await log.CommitAsync();
            return all.Except(settled).ToList();
        });

        Assert.Equal(3, log.SegmentCount);
        Assert.False(await harness.RecordExistsAsync("s0"));
        Assert.False(await harness.RecordExistsAsync("a0"));
        Assert.False(await harness.RecordExistsAsync("s1"));
        Assert.True(await harness.RecordExistsAsync("s2"));
        var reloaded = await harness.ReloadAsync();
        Assert.Equal(expected.Select(m => m.Sequence), reloaded.Select(e => e.Message.Sequence));

        var empty = harness.NewLog();
        await harness.RunAsync(async () =>
        {
            await empty.LoadAsync();
            await empty.Recovery;
            foreach (var entry in empty.TrackedEntries().ToList())
            {
                empty.Settle(entry.Sequence);
            }

            await empty.CommitAsync();
        });
        Assert.Equal(0, empty.SegmentCount);
        foreach (var id in Enumerable.Range(0, 5))
        {
            Assert.False(await harness.RecordExistsAsync($"s{id}"));
            Assert.False(await harness.RecordExistsAsync($"a{id}"));
        }

        Assert.True(await harness.RecordExistsAsync("meta"));
    }

    [Fact]
    public async Task A_log_whose_records_another_writer_changed_fails_its_commit_and_says_it_was_taken_over()
    {
        // Two activations of one queue (an old one on a dying silo, a new one elsewhere): the one that read first is stale.
        var harness = new LogHarness(Storage);
        var stale = harness.NewLog();
        await harness.RunAsync(async () =>
        {
            await stale.LoadAsync();
            await stale.AppendAsync(LogHarness.Messages(stale, 1));
        });
        var current = harness.NewLog();
        await harness.RunAsync(async () =>
        {
            await current.LoadAsync();
            await current.AppendAsync(LogHarness.Messages(current, 1));
        });

        var error = await Assert.ThrowsAsync<OrleansBroker.Errors.BrokerException>(() => harness.RunAsync(() => stale.AppendAsync(LogHarness.Messages(stale, 1))));
        Assert.Equal(OrleansBroker.Errors.BrokerErrorCode.StorageUnavailable, error.Code);
        Assert.Equal(1, harness.Listener.TakenOver);
        Assert.Equal(2, (await harness.ReloadAsync()).Count);
    }

    [Fact]
    public async Task Delivery_attempts_survive_a_reload_the_first_included_and_one_taken_back_is_gone()
    {
        var harness = new LogHarness(Storage);
        var log = harness.NewLog();
        await harness.RunAsync(async () =>
        {
            await log.LoadAsync();
            await log.AppendAsync(LogHarness.Messages(log, 3));
            Assert.True(log.TryGetEntry(1, out var first));
            log.RecordAttempt(first);
            log.UndoAttempt(first);
            Assert.True(log.TryGetEntry(2, out var second));
            log.RecordAttempt(second);
            log.RecordAttempt(second);
            log.RecordAttempt(second);
            Assert.True(log.TryGetEntry(3, out var third));
            log.RecordAttempt(third);
            await log.CommitAsync();
        });

        var reloaded = await harness.ReloadAsync();
        Assert.Equal([0, 3, 1], reloaded.Select(e => e.Attempts));
    }

    [Fact]
    public async Task A_failed_commit_fails_its_publishers_with_StorageUnavailable_and_leaves_nothing_behind()
    {
        var failing = new FailingStorage(Storage);
        var harness = new LogHarness(failing);
        var log = harness.NewLog();
        var kept = await harness.RunAsync(async () =>
        {
            await log.LoadAsync();
            var before = LogHarness.Messages(log, 10, prefix: "before");
            await log.AppendAsync(before);

            failing.FailWrites = _ => true;
            var error = await Assert.ThrowsAsync<BrokerException>(() => log.AppendAsync(LogHarness.Messages(log, 10, prefix: "lost")));
            Assert.Equal(BrokerErrorCode.StorageUnavailable, error.Code);

            failing.FailWrites = null;
            var after = LogHarness.Messages(log, 10, prefix: "after");
            await log.AppendAsync(after);
            return before.Concat(after).ToList();
        });

        var reloaded = await harness.ReloadAsync();
        Assert.Equal(kept.Select(m => m.MessageId), reloaded.Select(e => e.Message.MessageId));
        Assert.False(await harness.RecordExistsAsync("s1"));
    }

    [Fact]
    public async Task A_segment_whose_metadata_never_landed_is_not_part_of_the_log_and_is_deleted_on_recovery()
    {
        var failing = new FailingStorage(Storage);
        var harness = new LogHarness(failing);
        var log = harness.NewLog();
        await harness.RunAsync(async () =>
        {
            await log.LoadAsync();
            await log.AppendAsync(LogHarness.Messages(log, 5, prefix: "kept"));

            // The segment write lands, the metadata write does not: a crash between the two.
            failing.FailWrites = name => name == "meta";
            await Assert.ThrowsAsync<BrokerException>(() => log.AppendAsync(LogHarness.Messages(log, 5, prefix: "unconfirmed")));
        });
        failing.FailWrites = null;
        Assert.True(await harness.RecordExistsAsync("s1"));

        var reloaded = await harness.ReloadAsync();
        Assert.All(reloaded, e => Assert.StartsWith("kept", e.Message.MessageId, StringComparison.Ordinal));
        Assert.Equal(5, reloaded.Count);
        Assert.False(await harness.RecordExistsAsync("s1"));
    }

    [Fact]
    public async Task Dedup_ids_are_stored_only_with_their_messages_reloaded_after_the_messages_are_settled_and_pruned_by_age()
    {
        var failing = new FailingStorage(Storage);
        var harness = new LogHarness(failing);
        var log = harness.NewLog();
        static List<DedupMark> Marks(List<StoredMessage> messages, long ticks) => [.. messages.Select(m => new DedupMark(m.MessageId, m.Sequence, ticks))];
        await harness.RunAsync(async () =>
        {
            await log.LoadAsync();
            var kept = LogHarness.Messages(log, 3, prefix: "kept");
            await log.AppendAsync(kept, Marks(kept, ticks: 100));
            foreach (var entry in log.TrackedEntries().ToList())
            {
                log.Settle(entry);
            }

            await log.CommitAsync();

            // The ids cannot be stored, then the metadata cannot: both publishes fail, so neither their messages
            // nor their ids may be read back (a retry must not be taken for a repeat).
            failing.FailWrites = name => name.StartsWith('d');
            var refused = LogHarness.Messages(log, 2, prefix: "refused");
            await Assert.ThrowsAsync<BrokerException>(() => log.AppendAsync(refused, Marks(refused, ticks: 300)));
            failing.FailWrites = name => name == "meta";
            var unconfirmed = LogHarness.Messages(log, 2, prefix: "unconfirmed");
            await Assert.ThrowsAsync<BrokerException>(() => log.AppendAsync(unconfirmed, Marks(unconfirmed, ticks: 300)));
            failing.FailWrites = null;
        });

        // Acked messages (segment deleted) still count as seen; the refused publish's ids do not.
        var reloaded = harness.NewLog();
        var laterId = "";
        await harness.RunAsync(async () =>
        {
            await reloaded.LoadAsync();
            Assert.Equal(["kept1", "kept2", "kept3"], reloaded.RecoveredDedupMarks.Select(m => m.MessageId));
            Assert.Empty(reloaded.TrackedEntries());

            var later = LogHarness.Messages(reloaded, 1, prefix: "later");
            laterId = later[0].MessageId;
            await reloaded.AppendAsync(later, Marks(later, ticks: 500));
            reloaded.PruneDedup(olderThanTicks: 200);
            await reloaded.CommitAsync();
            Assert.Equal(1, reloaded.DedupRecordCount);
        });

        await Eventually.HoldsAsync(async () => !await harness.RecordExistsAsync("d0"), "the pruned record was deleted");
        var pruned = harness.NewLog();
        await harness.RunAsync(async () =>
        {
            await pruned.LoadAsync();
            Assert.Equal([laterId], pruned.RecoveredDedupMarks.Select(m => m.MessageId));
        });
    }

    [Theory]
    [InlineData("settle record lost, metadata stored", 10)]
    [InlineData("metadata lost, settle record stored", 6)]
    public async Task The_depth_is_right_after_a_crash_cut_a_settle_commit_short(string crash, int liveAfter)
    {
        // A commit writes the segment's settle record (a{n}) and the metadata (with the live count) side by side; a
        // silo killed between the two leaves one without the other. The messages the segments hold are what counts.
        var failing = new FailingStorage(Storage);
        var harness = new LogHarness(failing);
        await harness.RunAsync(async () =>
        {
            var log = harness.NewLog();
            await log.LoadAsync();
            await log.AppendAsync(LogHarness.Messages(log, 10));
            failing.FailWrites = crash.StartsWith("settle", StringComparison.Ordinal) ? name => name.StartsWith('a') : name => name == "meta";
            for (long sequence = 1; sequence <= 4; sequence++)
            {
                Assert.True(log.Settle(sequence));
            }

            await Assert.ThrowsAsync<BrokerException>(log.CommitAsync);
        });

        // The crashed log is never used again; the next activation reads what landed.
        failing.FailWrites = null;
        await harness.RunAsync(async () =>
        {
            var log = harness.NewLog();
            await log.LoadAsync();
            await log.Recovery;
            Assert.Equal(liveAfter, log.LiveCount);
            Assert.Equal(liveAfter, log.TrackedEntries().Count());

            // Settling what is left (redeliveries acked) brings the depth to zero, not below it.
            foreach (var entry in log.TrackedEntries().ToList())
            {
                Assert.True(log.Settle(entry));
            }

            await log.CommitAsync();
            Assert.Equal(0, log.LiveCount);
            Assert.Equal(0, log.LiveBytes);
        });

        var stored = harness.NewLog();
        await harness.RunAsync(stored.LoadAsync);
        Assert.Equal(0, stored.LiveCount);
    }

    [Fact]
    public async Task Settles_that_could_not_be_stored_are_stored_once_storage_is_back()
    {
        var failing = new FailingStorage(Storage);
        var harness = new LogHarness(failing);
        var log = harness.NewLog();
        await harness.RunAsync(async () =>
        {
            await log.LoadAsync();
            await log.AppendAsync(LogHarness.Messages(log, 10));
            failing.FailWrites = _ => true;
            for (long sequence = 1; sequence <= 4; sequence++)
            {
                log.Settle(sequence);
            }

            var error = await Assert.ThrowsAsync<BrokerException>(log.CommitAsync);
            Assert.Equal(BrokerErrorCode.StorageUnavailable, error.Code);

            failing.FailWrites = null;
            log.FlushInBackground();
            await log.CommitAsync();
        });

        var reloaded = await harness.ReloadAsync();
        Assert.Equal(Enumerable.Range(5, 6).Select(i => (long)i), reloaded.Select(e => e.Message.Sequence));
    }

    [Fact]
    public async Task A_log_deeper_than_its_memory_budget_keeps_bodies_in_storage_and_reads_them_back_whole()
    {
        // Segments of 8 messages of 1 KiB (about 8.7 KB each); 32 KiB of bodies in memory: 3 or 4 segments of 40.
        var harness = new LogHarness(Storage, new MessageLogOptions(SegmentMaxBytes: 8 * 1024, SegmentMaxMessages: 8, ResidentBytes: 32 * 1024));
        var log = harness.NewLog();
        var published = await harness.RunAsync(async () =>
        {
            await log.LoadAsync();
            var all = new List<StoredMessage>();
            for (var i = 0; i < 40; i++)
            {
                var batch = LogHarness.Messages(log, 8, bodyBytes: 1024);
                await log.AppendAsync(batch);
                all.AddRange(batch);
            }

            return all;
        });

        Assert.Equal(40, log.SegmentCount);
        Assert.InRange(log.ResidentBytes, 1, 32 * 1024);
        Assert.InRange(log.ResidentSegmentCount, 1, 4);
        Assert.Equal(320, log.LiveCount);

        var read = await harness.RunAsync(async () =>
        {
            // The newest message is furthest from delivery: paged out, read back on request.
            Assert.True(log.TryGetEntry(published[^1].Sequence, out var newest));
            Assert.False(log.TryGetMessage(newest, out _));
            var messages = new List<StoredMessage>();
            foreach (var message in published)
            {
                Assert.True(log.TryGetEntry(message.Sequence, out var entry));
                messages.Add(await log.ReadMessageAsync(entry));
            }

            return messages;
        });

        AssertSameMessages(published, read);
        Assert.True(harness.Listener.PagedIn > 0);
        Assert.InRange(log.ResidentBytes, 1, 32 * 1024);
    }

    [Fact]
    public async Task Recovery_serves_the_first_segments_at_once_and_hands_over_the_rest_in_order_with_the_depth_known_throughout()
    {
        var harness = new LogHarness(Storage, new MessageLogOptions(1024 * 1024, SegmentMaxMessages: 10, ResidentBytes: 16 * 1024 * 1024));
        var log = harness.NewLog();
        var live = await harness.RunAsync(async () =>
        {
            await log.LoadAsync();
            var all = new List<StoredMessage>();
            for (var i = 0; i < 30; i++)
            {
                var batch = LogHarness.Messages(log, 10);
                await log.AppendAsync(batch);
                all.AddRange(batch);
            }

            // Settled: all of segment 0 (deleted, so the log starts at 1) and one message in each later segment.
            var settled = all.Where((m, i) => i < 10 || i % 10 == 3).ToList();
            foreach (var message in settled)
            {
                log.Settle(message.Sequence);
            }

            await log.CommitAsync();
            return all.Except(settled).Select(m => m.Sequence).ToList();
        });

        var reloaded = harness.NewLog();
        var (first, depthBeforeRecovery, recoveredBeforeFirstTurnEnds) = await harness.RunAsync(async () =>
        {
            var entries = await reloaded.LoadAsync();
            return (entries.Select(e => e.Sequence).ToList(), reloaded.LiveCount, harness.Listener.Recovered.Count);
        });
        await reloaded.Recovery;

        // The rest is read after the turn that loaded the first segments, even from a storage that answers synchronously.
        Assert.Equal(0, recoveredBeforeFirstTurnEnds);

        // Segments 1..16 are read first: 16 of 9 live messages each; the other 13 follow.
        Assert.Equal(live.Take(16 * 9), first);
        Assert.Equal(live.Count, depthBeforeRecovery);
        Assert.Equal(live.Skip(16 * 9), harness.Listener.Recovered);
        Assert.Equal(live, reloaded.TrackedEntries().Select(e => e.Sequence));
        Assert.Equal(live.Count, reloaded.LiveCount);
    }

    [Fact]
    public async Task A_queue_deeper_than_one_storage_record_recovers_after_deactivation()
    {
        var queue = "deep-" + Guid.NewGuid().ToString("N")[..8];
        await Broker.CreateQueueAsync(queue);
        await PublishNumberedAsync(queue, 3000);

        await Backend.Cluster.Cluster.DeactivateAsync(Backend.Cluster.Grains.GetGrain<IQueueGrain>(queue));

        Assert.Equal(3000, (await Broker.GetQueueInfoAsync(queue)).Ready);
        var received = await ReceiveAndAckAsync(queue, 3000);
        Assert.Equal(Enumerable.Range(0, 3000).Select(i => $"m{i}"), received);
        Assert.Equal(0, (await Broker.GetQueueInfoAsync(queue)).Depth);
    }

    [Fact]
    public async Task A_consumer_with_credit_for_the_whole_queue_gets_each_paged_out_message_once_and_in_order()
    {
        // Reading ahead of delivery pages bodies back in; a read that completes at once (SQLite) must not start a
        // second dispatch inside the first one, which leased one message twice and dropped another from the ready index.
        var queue = "credit-" + Guid.NewGuid().ToString("N")[..8];

        // Every message is leased at once and acked one by one, which on Azurite takes about as long as the default
        // 30 s lease: a long lease keeps the test about dispatch, not about leases ending.
        await Broker.CreateQueueAsync(queue, new QueueOptions { LeaseDuration = TimeSpan.FromMinutes(10) });
        await PublishNumberedAsync(queue, 3000);

        var received = await Broker.ReceiveAndAckAsync(queue, 3000, prefetch: 5000, timeout: Eventually.DefaultTimeout * 2);

        Assert.Equal(Enumerable.Range(0, 3000).Select(i => $"m{i}"), received.Select(d => d.MessageId));
        await Eventually.HoldsAsync(async () => (await Broker.GetQueueInfoAsync(queue)).Depth == 0, "every ack landed");
    }

    /// <summary>Publishes m0, m1, ... with 1 KiB bodies, 100 a call.</summary>
    protected async Task PublishNumberedAsync(string queue, int count)
    {
        for (var first = 0; first < count; first += 100)
        {
            await Broker.PublishBatchAsync(queue, Enumerable.Range(first, Math.Min(100, count - first)).Select(i => new BrokerMessage($"m{i}", new byte[1024])).ToList());
        }
    }

    protected async Task<List<string>> ReceiveAndAckAsync(string queue, int count) =>
        [.. (await Broker.ReceiveAndAckAsync(queue, count, prefetch: 200, timeout: Eventually.DefaultTimeout * 2)).Select(d => d.MessageId)];

    private static void AssertSameMessages(IReadOnlyList<StoredMessage> expected, IReadOnlyList<StoredMessage> actual)
    {
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            var (e, a) = (expected[i], actual[i]);
            Assert.Equal(e.Sequence, a.Sequence);
            Assert.Equal(e.MessageId, a.MessageId);
            Assert.Equal(e.Body, a.Body);
            Assert.Equal(e.ContentType, a.ContentType);
            Assert.Equal(e.Headers?.OrderBy(h => h.Key), a.Headers?.OrderBy(h => h.Key));
            Assert.Equal(e.RoutingKey, a.RoutingKey);
            Assert.Equal(e.EnqueuedAt, a.EnqueuedAt);
        }
    }
}

/// <summary>What only a durable backend must also do: keep everything across a silo restart, reminders included.</summary>
public abstract class DurableStorageComplianceTests(StorageBackend backend) : StorageComplianceTests(backend)
{
    private IBrokerClient Broker => Backend.Cluster.Broker;

    [Fact]
    public async Task Nothing_confirmed_is_lost_across_a_silo_restart()
    {
        var queue = "restart-" + Guid.NewGuid().ToString("N")[..8];
        await Broker.CreateQueueAsync(queue);
        await PublishNumberedAsync(queue, 2000);

        Assert.Equal(500, (await ReceiveAndAckAsync(queue, 500)).Count);
        await Backend.Cluster.RestartSilosAsync();

        var info = await Broker.GetQueueInfoAsync(queue);
        Assert.Equal(1500, info.Depth);
        Assert.Equal(2000, info.Counters.Published);
        Assert.Equal(Enumerable.Range(500, 1500).Select(i => $"m{i}"), await ReceiveAndAckAsync(queue, 1500));
    }

    [Fact]
    public async Task A_queue_with_deliveries_out_is_woken_by_its_reminder_after_a_restart_and_dead_letters_what_ran_out_of_attempts()
    {
        // The consumer holds the last allowed attempt when the silo goes down, and nobody calls the
        // queue afterwards: only its reminder can bring it back to dead-letter the message.
        var queue = "wake-" + Guid.NewGuid().ToString("N")[..8];
        await Broker.CreateQueueAsync(queue, new QueueOptions { MaxDeliveryAttempts = 2, LeaseDuration = TimeSpan.FromMinutes(10) });
        await Broker.PublishAsync(queue, "poison", "poison");
        var grain = Backend.Cluster.Grains.GetGrain<IQueueGrain>(queue);
        var observer = new RecordingObserver();
        await grain.Subscribe("silent", 10, Backend.Cluster.Grains.CreateObjectReference<IConsumerObserver>(observer));

        var first = await observer.NextAsync();
        Assert.Equal([SettleStatus.Ok], await grain.Settle([new Settlement(first.Sequence, first.LeaseToken, SettleKind.Requeue)]));
        var second = await observer.NextAsync();
        Assert.Equal(2, second.Attempt);

        await Backend.Cluster.RestartSilosAsync();

        // The restart handed the lease over; the consumer never registers again, so the lease ends once its registration would
        // have expired (3 × ConsumerRenewInterval, 60 s here), and the message, out of attempts, is dead-lettered.
        var dlq = Backend.Cluster.Grains.GetGrain<IQueueGrain>(queue + ".dlq");
        await Eventually.HoldsAsync(async () => (await Broker.ListQueuesAsync()).Contains(queue + ".dlq") && (await dlq.GetInfo()).Ready == 1,
            "the message dead-lettered by the reactivated queue", TimeSpan.FromMinutes(3));
        var dead = Assert.Single(await Broker.ReceiveAndAckAsync(queue + ".dlq", 1));
        Assert.Equal("poison", dead.MessageId);
        Assert.Equal(queue, dead.Headers![OrleansBroker.Messages.BrokerHeaders.SourceQueue]);
        Assert.Equal("2", dead.Headers[OrleansBroker.Messages.BrokerHeaders.Attempts]);
    }
}

public sealed class SqliteStorageComplianceTests(SqliteBackend backend) : DurableStorageComplianceTests(backend), IClassFixture<SqliteBackend>;

public sealed class AzureStorageComplianceTests(AzureBackend backend) : DurableStorageComplianceTests(backend), IClassFixture<AzureBackend>;

public sealed class MemoryStorageComplianceTests(MemoryBackend backend) : StorageComplianceTests(backend), IClassFixture<MemoryBackend>;
