using Orleans.Storage;
using OrleansBroker.Server.Log;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Tests.Storage;
using Xunit;

namespace OrleansBroker.Tests.Log;

/// <summary>The live segment ranges in a log's metadata, and a recovery that reads only the live segments.</summary>
public sealed class SegmentRangesTests
{
    [Fact]
    public void Ranges_join_and_split_as_segments_come_and_go()
    {
        var ranges = new List<long>();
        foreach (var id in new long[] { 0, 1, 2, 5, 3 })
        {
            SegmentRanges.Add(ranges, id);
        }

        Assert.Equal([0L, 4, 5, 6], ranges);
        SegmentRanges.Add(ranges, 4);
        Assert.Equal([0L, 6], ranges);
        SegmentRanges.Add(ranges, 2);
        Assert.Equal([0L, 6], ranges);

        SegmentRanges.Remove(ranges, 2);
        SegmentRanges.Remove(ranges, 0);
        SegmentRanges.Remove(ranges, 5);
        SegmentRanges.Remove(ranges, 9);
        Assert.Equal([1L, 2, 3, 5], ranges);
        Assert.Equal([3L, 4], SegmentRanges.Ids(ranges, first: 2, next: 100));
        Assert.Equal([1L, 3], SegmentRanges.Ids(ranges, first: 0, next: 4));
        Assert.Equal(ranges, SegmentRanges.Of([4, 1, 3]));

        var scattered = SegmentRanges.Of(Enumerable.Range(0, SegmentRanges.MaxRanges + 1).Select(i => 2L * i));
        Assert.False(SegmentRanges.Fits(scattered));
    }

    [Fact]
    public async Task Recovery_reads_the_live_segments_and_not_every_id_between_them()
    {
        var storage = new ReadCountingStorage(SerializingMemoryStorage.New());
        var harness = new LogHarness(storage, new MessageLogOptions(1024 * 1024, SegmentMaxMessages: 1, ResidentBytes: 1 << 20));
        var log = harness.NewLog();
        await harness.RunAsync(async () =>
        {
            await log.LoadAsync();
            for (var i = 0; i < 300; i++)
            {
                await log.AppendAsync(LogHarness.Messages(log, 1));
            }

            // The oldest and the newest stay; the 298 between are acked and their segments deleted.
            foreach (var entry in log.TrackedEntries().Skip(1).SkipLast(1).ToList())
            {
                log.Settle(entry);
            }

            await log.CommitAsync();
        });
        Assert.Equal(2, log.SegmentCount);

        storage.SegmentReads = 0;
        var live = await harness.ReloadAsync();
        Assert.Equal([1L, 300], live.Select(m => m.Message.Sequence));

        // The two live segments, read at load and once more for their bodies, and the one id past the end that recovery
        // checks for a commit cut short: not the 300 ids in between.
        Assert.InRange(storage.SegmentReads, 3, 6);
    }

    private sealed class ReadCountingStorage(IGrainStorage inner) : IGrainStorage
    {
        public int SegmentReads { get; set; }

        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            if (stateName.StartsWith('s'))
            {
                SegmentReads++;
            }

            return inner.ReadStateAsync(stateName, grainId, grainState);
        }

        public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.WriteStateAsync(stateName, grainId, grainState);

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ClearStateAsync(stateName, grainId, grainState);
    }
}
