using Microsoft.Extensions.Time.Testing;
using OrleansBroker.Server.Log;
using OrleansBroker.Server.Queues.Publishing;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Queues.Publishing;

/// <summary>The dedup window on a clock the test moves: found inside it, forgotten after it, a failed commit leaves no trace.</summary>
public sealed class DeduplicatorTests
{
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(10);
    private readonly FakeTimeProvider _clock = TestClock.New();
    private readonly Deduplicator _dedup = new();

    private long Now => _clock.GetUtcNow().UtcTicks;

    private long WindowStart => (_clock.GetUtcNow() - Window).UtcTicks;

    private DedupMark Mark(string id, long sequence) => new(id, sequence, Now);

    [Fact]
    public void An_id_is_found_until_its_window_ends_and_forgotten_when_pruned()
    {
        _dedup.Add(Mark("pay-1", 1), Task.CompletedTask);
        _dedup.Committed([Mark("pay-1", 1)]);

        _clock.Advance(Window);
        Assert.True(_dedup.TryFind("pay-1", WindowStart, out var found));
        Assert.Equal(1, found.Sequence);
        Assert.Null(found.Pending);

        _clock.Advance(TimeSpan.FromTicks(1));
        Assert.False(_dedup.TryFind("pay-1", WindowStart, out _));
        _dedup.Prune(WindowStart);
        Assert.Equal(0, _dedup.Count);
    }

    [Fact]
    public void A_repeat_during_the_first_commit_sees_it_pending_and_a_failed_commit_lets_the_retry_in()
    {
        var commit = new TaskCompletionSource();
        _dedup.Add(Mark("a", 5), commit.Task);
        Assert.True(_dedup.TryFind("a", WindowStart, out var pending));
        Assert.Same(commit.Task, pending.Pending);

        _dedup.Failed([Mark("a", 5)]);
        Assert.False(_dedup.TryFind("a", WindowStart, out _));

        // The retry is a new publish with a new sequence; the failed one's leftovers do not touch it.
        _clock.Advance(TimeSpan.FromSeconds(1));
        _dedup.Add(Mark("a", 6), Task.CompletedTask);
        _dedup.Failed([new DedupMark("a", 5, Now)]);
        Assert.True(_dedup.TryFind("a", WindowStart, out var retry));
        Assert.Equal(6, retry.Sequence);
    }

    [Fact]
    public void A_mark_whose_commit_outlasts_the_window_is_pruned_once_the_commit_ends()
    {
        _dedup.Add(Mark("slow", 1), new TaskCompletionSource().Task);
        _clock.Advance(Window + TimeSpan.FromMinutes(1));
        _dedup.Add(Mark("later", 2), Task.CompletedTask);

        _dedup.Prune(WindowStart);
        Assert.Equal(2, _dedup.Count);

        _dedup.Committed([new DedupMark("slow", 1, 0)]);
        _dedup.Prune(WindowStart);
        Assert.False(_dedup.TryFind("slow", 0, out _));
        Assert.True(_dedup.TryFind("later", WindowStart, out _));
    }

    [Fact]
    public void Marks_read_by_recovery_hold_as_committed_ones_and_age_out_oldest_first()
    {
        var start = Now;
        _dedup.Load([new DedupMark("old", 1, start), new DedupMark("new", 2, start + TimeSpan.FromMinutes(5).Ticks)]);

        _clock.Advance(Window + TimeSpan.FromMinutes(1));
        _dedup.Prune(WindowStart);
        Assert.False(_dedup.TryFind("old", 0, out _));
        Assert.True(_dedup.TryFind("new", WindowStart, out var kept));
        Assert.Equal(2, kept.Sequence);
    }
}
