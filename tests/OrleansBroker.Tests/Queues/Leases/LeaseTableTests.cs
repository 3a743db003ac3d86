using Microsoft.Extensions.Time.Testing;
using OrleansBroker.Server.Queues.Leases;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Queues.Leases;

/// <summary>The lease table on a clock the test moves: tokens, extension, expiry, ending, in milliseconds.</summary>
public sealed class LeaseTableTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);
    private readonly FakeTimeProvider _clock = TestClock.New();
    private readonly LeaseTable _table = new();

    private DateTimeOffset Now => _clock.GetUtcNow();

    [Fact]
    public void Each_delivery_gets_its_own_token_and_only_that_token_holds_the_message()
    {
        var first = _table.Grant(1, "c1", Now + Lease);
        Assert.True(_table.TryEnd(1, first.Token, out _));
        var second = _table.Grant(1, "c2", Now + Lease);

        Assert.NotEqual(first.Token, second.Token);
        Assert.False(_table.Holds(1, first.Token));
        Assert.True(_table.Holds(1, second.Token));
        Assert.False(_table.TryEnd(1, first.Token, out _));
        Assert.False(_table.Extend(1, first.Token, Now + Lease));
        Assert.True(_table.IsLeased(1));
    }

    [Fact]
    public void A_lease_expires_at_its_end_and_not_a_tick_before()
    {
        var lease = _table.Grant(7, "c1", Now + Lease);
        _clock.Advance(Lease - TimeSpan.FromMilliseconds(1));
        Assert.Empty(_table.TakeExpired(Now));

        _clock.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal([(7L, lease)], _table.TakeExpired(Now));
        Assert.False(_table.IsLeased(7));
        Assert.Equal(0, _table.Count);
        Assert.Empty(_table.TakeExpired(Now + Lease));
    }

    [Fact]
    public void An_extension_moves_the_end_and_the_old_end_passes_without_effect()
    {
        var lease = _table.Grant(3, "c1", Now + TimeSpan.FromSeconds(2));
        _clock.Advance(TimeSpan.FromSeconds(1));
        Assert.True(_table.Extend(3, lease.Token, Now + TimeSpan.FromSeconds(10)));

        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Empty(_table.TakeExpired(Now));
        Assert.True(_table.Holds(3, lease.Token));

        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal([3L], _table.TakeExpired(Now).Select(e => e.Sequence));
    }

    [Fact]
    public void Expired_leases_come_earliest_end_first_and_an_ended_one_never_comes()
    {
        var a = _table.Grant(1, "c1", Now + TimeSpan.FromSeconds(3));
        _table.Grant(2, "c1", Now + TimeSpan.FromSeconds(1));
        _table.Grant(3, "c2", Now + TimeSpan.FromSeconds(2));
        var acked = _table.Grant(4, "c2", Now + TimeSpan.FromSeconds(1));
        Assert.True(_table.TryEnd(4, acked.Token, out _));
        Assert.True(_table.Extend(1, a.Token, Now + TimeSpan.FromMilliseconds(500)));

        _clock.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal([1L, 2L, 3L], _table.TakeExpired(Now).Select(e => e.Sequence));
    }

    [Fact]
    public void A_restored_lease_keeps_its_token_and_counts_as_received()
    {
        var restored = _table.Restore(9, "c1", 12345, Now + Lease);
        Assert.True(restored.Received);
        Assert.True(_table.Holds(9, 12345));
        Assert.Equal(1, _table.CountHeldBy("c1"));

        // A new delivery's token is never one an earlier activation could have handed out with this message.
        Assert.True(_table.TryEnd(9, 12345, out _));
        Assert.NotEqual(12345, _table.Grant(9, "c1", Now + Lease).Token);
    }

    [Fact]
    public void Held_by_is_a_copy_so_its_leases_can_be_ended_while_going_through()
    {
        _table.Grant(1, "gone", Now + Lease);
        _table.Grant(2, "stays", Now + Lease);
        _table.Grant(3, "gone", Now + Lease);

        foreach (var (sequence, lease) in _table.HeldBy(id => id == "gone"))
        {
            Assert.True(_table.TryEnd(sequence, lease.Token, out _));
        }

        Assert.Equal([2L], _table.All.Select(l => l.Key));
        Assert.Equal(0, _table.CountHeldBy("gone"));
    }
}
