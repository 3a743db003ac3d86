using Orleans.Storage;
using OrleansBroker.Server.Log;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Tests.Storage;
using Xunit;

namespace OrleansBroker.Tests.Log;

/// <summary>Work done while recovery still reads the log in the background must not make the unread part unreachable.</summary>
public sealed class RecoveryUnderWayTests
{
    [Fact]
    public async Task Settling_everything_read_so_far_keeps_the_segments_recovery_has_not_read()
    {
        var storage = new HoldingReads(SerializingMemoryStorage.New());
        var harness = new LogHarness(storage, new MessageLogOptions(1024 * 1024, SegmentMaxMessages: 1, ResidentBytes: 1 << 20));
        const int Segments = 40;
        await harness.RunAsync(async () =>
        {
            var log = harness.NewLog();
            await log.LoadAsync();
            log.UpdateMeta(meta => meta.Created = true);
            for (var i = 0; i < Segments; i++)
            {
                await log.AppendAsync(LogHarness.Messages(log, 1));
            }
        });

        // A new activation reads the first segments; the rest wait in the background while its consumers ack all it has.
        // (The last one is read before anything is served, to check that the last commit landed whole.)
        storage.Hold = name => name.Length > 1 && name[0] is 's' or 'a' && long.TryParse(name[1..], out var id) && id >= LogRecovery.Parallelism && id < Segments - 1;
        await harness.RunAsync(async () =>
        {
            var log = harness.NewLog();
            var first = await log.LoadAsync();
            Assert.Equal(LogRecovery.Parallelism, first.Count);
            foreach (var entry in first)
            {
                log.Settle(entry);
            }

            await log.CommitAsync();
        });

        // That activation dies before recovery got further: the next one still finds every message not acked.
        storage.Hold = null;
        var live = await harness.ReloadAsync();
        storage.Release.TrySetResult();
        Assert.Equal(Segments - LogRecovery.Parallelism, live.Count);
    }

    private sealed class HoldingReads(IGrainStorage inner) : IGrainStorage
    {
        public Func<string, bool>? Hold { get; set; }

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            if (Hold?.Invoke(stateName) == true)
            {
                await Release.Task;
            }

            await inner.ReadStateAsync(stateName, grainId, grainState);
        }

        public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.WriteStateAsync(stateName, grainId, grainState);

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ClearStateAsync(stateName, grainId, grainState);
    }
}
