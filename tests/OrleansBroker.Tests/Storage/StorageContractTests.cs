using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Storage;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Server.Log;
using OrleansBroker.Server.Storage;
using Xunit;

namespace OrleansBroker.Tests.Storage;

/// <summary>
/// The Orleans grain storage contract the broker's log relies on (absent records, ETags, clears, large records,
/// writes sent together) and the reminder table contract, run against each backend: SQLite file, Azurite, memory.
/// </summary>
public abstract class StorageContractTests(StorageBackend backend)
{
    private IGrainStorage Storage => backend.Storage;

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
    public async Task Many_grains_records_read_together_come_back_in_order_with_their_etags_and_absent_ones_absent()
    {
        // More grains than one SQLite query takes, every third one without the record, one with the record under another name.
        var grains = Enumerable.Range(0, SqliteGrainStorage.BatchSize + 100).Select(_ => NewGrainId()).ToList();
        var written = new Dictionary<int, StoredRecord<SegmentRecord>>();
        await Task.WhenAll(grains.Select(async (grain, i) =>
        {
            if (i % 3 != 0)
            {
                var record = new StoredRecord<SegmentRecord> { State = Segment($"m{i}") };
                await Storage.WriteStateAsync("s0", grain, record);
                lock (written)
                {
                    written[i] = record;
                }
            }
        }));
        await Storage.WriteStateAsync("s1", grains[0], new StoredRecord<SegmentRecord> { State = Segment("other") });

        var reader = (IRecordBatchReader)backend.Cluster.SiloServices.GetRequiredKeyedService<IGrainStorage>(BrokerOptions.StateStorageProviderName);
        var read = await reader.ReadManyAsync<SegmentRecord>("s0", grains);

        Assert.Equal(grains.Count, read.Count);
        for (var i = 0; i < grains.Count; i++)
        {
            if (written.TryGetValue(i, out var record))
            {
                Assert.True(read[i].RecordExists, $"grain {i}");
                Assert.Equal(record.ETag, read[i].ETag);
                StoredMessages.AssertSame(record.State.Messages, read[i].State.Messages);
            }
            else
            {
                Assert.False(read[i].RecordExists, $"grain {i}");
            }
        }
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
        StoredMessages.AssertSame(written.State.Messages, read.State.Messages);
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
        StoredMessages.AssertSame(messages, read.State.Messages);
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
        var reminders = backend.Reminders;
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
}

[Collection(SqliteBackend.Collection)]
public sealed class SqliteStorageContractTests(SqliteBackend backend) : StorageContractTests(backend);

[Collection(AzureBackend.Collection)]
public sealed class AzureStorageContractTests(AzureBackend backend) : StorageContractTests(backend);

[Collection(PostgresBackend.Collection)]
public sealed class PostgresStorageContractTests(PostgresBackend backend) : StorageContractTests(backend);

[Collection(MemoryBackend.Collection)]
public sealed class MemoryStorageContractTests(MemoryBackend backend) : StorageContractTests(backend);
