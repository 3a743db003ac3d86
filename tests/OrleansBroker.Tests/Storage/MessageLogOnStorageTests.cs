using Orleans.Storage;
using OrleansBroker.Errors;
using OrleansBroker.Server.Log;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Storage;

/// <summary>
/// The message log on each backend: chunking into segments, settles, attempts, dedup records, failed and cut-short
/// commits, page-out and recovery, through <see cref="LogHarness"/> as a queue grain drives it.
/// </summary>
public abstract class MessageLogOnStorageTests(StorageBackend backend)
{
    private IGrainStorage Storage => backend.Storage;

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
        StoredMessages.AssertSame(published, reloaded.Select(e => e.Message).ToList());
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
        // Deleted once the metadata that says so has landed: by the next commit, or by the log itself when it goes quiet.
        await Eventually.HoldsAsync(async () => !await harness.RecordExistsAsync("s0") && !await harness.RecordExistsAsync("s1"), "the settled segments were deleted");
        Assert.False(await harness.RecordExistsAsync("a0"));
        Assert.True(await harness.RecordExistsAsync("s2"));
        Assert.True(await harness.RecordExistsAsync("a2"));
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
        await Eventually.HoldsAsync(
            async () =>
            {
                foreach (var id in Enumerable.Range(0, 5))
                {
                    if (await harness.RecordExistsAsync($"s{id}") || await harness.RecordExistsAsync($"a{id}"))
                    {
                        return false;
                    }
                }

                return true;
            },
            "every segment and settle record was deleted");

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
    public async Task A_writer_that_lost_the_log_leaves_no_settle_record_behind_for_the_owner_to_trip_over()
    {
        // The old activation loaded the metadata between two commits of the new one. Its next commit fails on the metadata,
        // but settle records written beside it would land: the owner's own write of such a record then fails on its ETag,
        // and the owner steps down as if it had been taken over (and a record older than the owner's may be left).
        var harness = new LogHarness(Storage);
        var owner = harness.NewLog();
        await harness.RunAsync(async () =>
        {
            await owner.LoadAsync();
            await owner.AppendAsync(LogHarness.Messages(owner, 10));
            Assert.True(owner.Settle(1));
            await owner.CommitAsync();
        });
        var stale = harness.NewLog();
        await harness.RunAsync(async () =>
        {
            await stale.LoadAsync();
            await stale.Recovery;
            Assert.True(owner.Settle(2));
            await owner.CommitAsync();
            stale.UpdateMeta(_ => { });
            await Assert.ThrowsAsync<BrokerException>(stale.CommitAsync);
            stale.Stop();
        });

        Assert.Equal(1, harness.Listener.TakenOver);
        await harness.RunAsync(async () =>
        {
            Assert.True(owner.Settle(3));
            await owner.CommitAsync();

            // Commits that write the settle record the last ones carried.
            owner.UpdateMeta(_ => { });
            await owner.CommitAsync();
            owner.UpdateMeta(_ => { });
            await owner.CommitAsync();
            owner.Stop();
        });

        Assert.Equal(1, harness.Listener.TakenOver);
        Assert.True(await harness.RecordExistsAsync("a0"));
        Assert.Equal(Enumerable.Range(4, 7).Select(i => (long)i), (await harness.ReloadAsync()).Select(m => m.Message.Sequence));
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
    public async Task First_attempts_of_messages_handed_out_on_landing_are_stored_with_them_and_need_no_commit_of_their_own()
    {
        var harness = new LogHarness(Storage);
        harness.Listener.HandOutOnLanding = 2;
        var log = harness.NewLog();
        await harness.RunAsync(async () =>
        {
            await log.LoadAsync();
            await log.AppendAsync(LogHarness.Messages(log, 3));
            Assert.True(log.TryGetEntry(1, out var first));
            Assert.Equal(1, first.Attempts);
            Assert.False(log.RecordAttempt(first));
            Assert.Equal(1, first.Attempts);

            // The next attempt is a change to store, like any other; the third message was not counted ahead.
            Assert.True(log.RecordAttempt(first));
            Assert.Equal(2, first.Attempts);
            Assert.True(log.TryGetEntry(3, out var third));
            Assert.Equal(0, third.Attempts);

            // Nothing committed after the append: what a reload finds is what the append's commit stored.
            log.Stop();
        });

        var reloaded = await harness.ReloadAsync();
        Assert.Equal([1, 1, 0], reloaded.Select(e => e.Attempts));
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

        // The failed commit's segment id went to the next commit, once what of it might have landed was deleted: no gap
        // that a record of a failed commit could hide behind, and no record of it left.
        Assert.True(await harness.RecordExistsAsync("s1"));
        Assert.False(await harness.RecordExistsAsync("s2"));
    }

    [Fact]
    public async Task A_commit_being_written_counts_for_limits_but_is_not_landed_until_it_has()
    {
        var holding = new FailingStorage(Storage);
        var harness = new LogHarness(holding);
        var log = harness.NewLog();
        await harness.RunAsync(async () =>
        {
            await log.LoadAsync();
            await log.AppendAsync(LogHarness.Messages(log, 3, prefix: "landed"));

            holding.HoldWrites = name => name == "meta";
            var append = log.AppendAsync(LogHarness.Messages(log, 2, prefix: "landing"));
            await holding.Held.Task;

            // A limit must count what is on its way; a queue's depth and a peek show only what has landed.
            Assert.Equal(5, log.LiveCount);
            Assert.Equal(3, log.LandedCount);
            Assert.Equal(3, log.TrackedEntries().Count());
            Assert.True(log.LandedBytes < log.LiveBytes);

            holding.HoldWrites = null;
            holding.Release.SetResult();
            await append;
            Assert.Equal(5, log.LandedCount);
            Assert.Equal(log.LiveBytes, log.LandedBytes);
            Assert.Equal(5, log.TrackedEntries().Count());
        });
    }

    [Fact]
    public async Task A_segment_whose_metadata_never_landed_is_deleted_on_recovery_and_its_sequence_numbers_are_not_handed_out_again()
    {
        var failing = new FailingStorage(Storage);
        var harness = new LogHarness(failing);
        var log = harness.NewLog();
        var unconfirmed = await harness.RunAsync(async () =>
        {
            await log.LoadAsync();
            await log.AppendAsync(LogHarness.Messages(log, 5, prefix: "kept"));

            // The segment write lands, the metadata write does not: a crash between the two.
            failing.FailWrites = name => name == "meta";
            var messages = LogHarness.Messages(log, 5, prefix: "unconfirmed");
            await Assert.ThrowsAsync<BrokerException>(() => log.AppendAsync(messages));
            return messages;
        });
        failing.FailWrites = null;
        Assert.True(await harness.RecordExistsAsync("s1"));

        var reloaded = await harness.ReloadAsync();
        Assert.All(reloaded, e => Assert.StartsWith("kept", e.Message.MessageId, StringComparison.Ordinal));
        Assert.Equal(5, reloaded.Count);
        Assert.False(await harness.RecordExistsAsync("s1"));

        // The activation that deleted it committed nothing; the next one still does not hand its sequences out again.
        var next = await harness.RunAsync(async () =>
        {
            var again = harness.NewLog();
            await again.LoadAsync();
            return LogHarness.Messages(again, 1, prefix: "later")[0].Sequence;
        });
        Assert.True(next > unconfirmed.Max(m => m.Sequence), $"sequence {next} was handed out again (the failed publish had {unconfirmed[0].Sequence} to {unconfirmed[^1].Sequence})");
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

    [Fact]
    public async Task Settles_made_while_a_commit_is_written_count_with_the_next_one()
    {
        // A commit with producer-set ids writes its segment before its metadata. Acks that come in meanwhile belong to the
        // next commit: the metadata this one writes must not count them, or a crash before the next commit lands leaves
        // them counted with their messages live (acked again when delivered again).
        var failing = new FailingStorage(Storage);
        var harness = new LogHarness(failing);
        var metaWrites = 0;
        await harness.RunAsync(async () =>
        {
            var log = harness.NewLog();
            await log.LoadAsync();
            await log.AppendAsync(LogHarness.Messages(log, 10));
            failing.HoldWrites = name => name.StartsWith('s');
            failing.FailWrites = name => name == "meta" && ++metaWrites > 1;
            var extra = LogHarness.Messages(log, 1);
            var published = log.AppendAsync(extra, [new DedupMark(extra[0].MessageId, extra[0].Sequence, 1)]);
            await failing.Held.Task;
            for (long sequence = 1; sequence <= 4; sequence++)
            {
                Assert.True(log.Settle(sequence));
            }

            log.UpdateMeta(meta => meta.Counters = meta.Counters with { Acked = meta.Counters.Acked + 4 });
            failing.Release.TrySetResult();
            await published;
            await Assert.ThrowsAsync<BrokerException>(log.CommitAsync);
        });

        failing.HoldWrites = null;
        failing.FailWrites = null;
        await harness.RunAsync(async () =>
        {
            var log = harness.NewLog();
            await log.LoadAsync();
            await log.Recovery;
            Assert.Equal(11, log.TrackedEntries().Count());
            Assert.Equal(11, log.LiveCount);
            Assert.Equal(0, log.Meta.Counters.Acked);
            Assert.Equal(11, log.Meta.Counters.Published);
            log.Stop();
        });
    }

    [Theory]
    [InlineData("metadata lost", 10)]
    [InlineData("settle record lost", 4)]
    [InlineData("segment deletion lost", 4)]
    public async Task The_depth_is_right_after_a_crash_cut_a_commit_short(string crash, int liveAfter)
    {
        // A commit writes its records side by side and a silo killed meanwhile lands any part of them. Settles count
        // once the metadata holding them has landed; the segment's settle record and the deletion of a segment whose
        // messages are all settled come a commit later.
        var failing = new FailingStorage(Storage);
        var harness = new LogHarness(failing, new MessageLogOptions(1024 * 1024, SegmentMaxMessages: 5, ResidentBytes: 16 * 1024 * 1024));
        await harness.RunAsync(async () =>
        {
            var log = harness.NewLog();
            await log.LoadAsync();
            await log.AppendAsync(LogHarness.Messages(log, 5));
            await log.AppendAsync(LogHarness.Messages(log, 5));
            failing.FailWrites = crash switch
            {
                "metadata lost" => name => name == "meta",
                "settle record lost" => name => name.StartsWith('a'),
                _ => name => name == "s0",
            };

            // Segment 0 all settled, one of segment 1.
            for (long sequence = 1; sequence <= 6; sequence++)
            {
                Assert.True(log.Settle(sequence));
            }

            log.UpdateMeta(meta => meta.Counters = meta.Counters with { Acked = meta.Counters.Acked + 6 });
            if (crash == "metadata lost")
            {
                await Assert.ThrowsAsync<BrokerException>(log.CommitAsync);
                return;
            }

            // The metadata lands; the next commit, which writes the settle record and deletes segment 0, is cut short.
            await log.CommitAsync();
            log.UpdateMeta(_ => { });
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
            Assert.Equal(10 - liveAfter, log.Meta.Counters.Acked);
            Assert.Equal(10, log.Meta.Counters.Published);

            // Settling what is left (redeliveries acked) brings the depth to zero, not below it.
            foreach (var entry in log.TrackedEntries().ToList())
            {
                Assert.True(log.Settle(entry));
            }

            await log.CommitAsync();
            Assert.Equal(0, log.LiveCount);
            Assert.Equal(0, log.LiveBytes);
        });

        await Eventually.HoldsAsync(async () => !await harness.RecordExistsAsync("s0") && !await harness.RecordExistsAsync("s1"), "every settled segment was deleted");
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

        StoredMessages.AssertSame(published, read);
        Assert.True(harness.Listener.PagedIn > 0);
        Assert.InRange(log.ResidentBytes, 1, 32 * 1024);
    }

    [Fact]
    public async Task Over_its_memory_budget_the_log_keeps_the_segments_delivery_reaches_first_a_new_high_priority_one_included()
    {
        // Segments of 8 messages of 1 KiB; 32 KiB of bodies in memory: 3 segments of 20.
        var harness = new LogHarness(Storage, new MessageLogOptions(SegmentMaxBytes: 8 * 1024, SegmentMaxMessages: 8, ResidentBytes: 32 * 1024));
        var log = harness.NewLog();
        var (urgent, lastPlain) = await harness.RunAsync(async () =>
        {
            await log.LoadAsync();
            List<StoredMessage> plain = [];
            for (var i = 0; i < 19; i++)
            {
                plain = LogHarness.Messages(log, 8, bodyBytes: 1024);
                await log.AppendAsync(plain);
            }

            // The newest segment, but delivered before all the others: priority goes first.
            var urgent = LogHarness.Messages(log, 8, bodyBytes: 1024, prefix: "urgent").Select(m => m with { Priority = 9 }).ToList();
            await log.AppendAsync(urgent);
            return (urgent, plain);
        });

        await harness.RunAsync(() =>
        {
            // Delivery gets the high-priority bodies without a read from storage; the newest plain segment is what went out.
            foreach (var message in urgent)
            {
                Assert.True(log.TryGetEntry(message.Sequence, out var entry));
                Assert.True(log.TryGetMessage(entry, out var body), $"{message.MessageId} was paged out although it is delivered first");
                Assert.Equal(message.MessageId, body.MessageId);
            }

            Assert.True(log.TryGetEntry(lastPlain[0].Sequence, out var plainEntry));
            Assert.Null(plainEntry.Segment.Messages);
            return Task.CompletedTask;
        });

        Assert.InRange(log.ResidentBytes, 1, 32 * 1024);
        Assert.Equal(160, (await harness.ReloadAsync()).Count);
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
}

[Collection(SqliteBackend.Collection)]
public sealed class SqliteMessageLogTests(SqliteBackend backend) : MessageLogOnStorageTests(backend);

[Collection(AzureBackend.Collection)]
public sealed class AzureMessageLogTests(AzureBackend backend) : MessageLogOnStorageTests(backend);

[Collection(PostgresBackend.Collection)]
public sealed class PostgresMessageLogTests(PostgresBackend backend) : MessageLogOnStorageTests(backend);

[Collection(MemoryBackend.Collection)]
public sealed class MemoryMessageLogTests(MemoryBackend backend) : MessageLogOnStorageTests(backend);
