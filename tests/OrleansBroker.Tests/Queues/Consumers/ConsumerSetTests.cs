using Microsoft.Extensions.Time.Testing;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Queues.Consumers;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Queues.Consumers;

/// <summary>Credit and rotation: who gets the next message, without a silo.</summary>
public sealed class ConsumerSetTests
{
    private readonly FakeTimeProvider _clock = TestClock.New();
    private readonly ConsumerSet _set = new();

    private Consumer Add(string id, int prefetch)
    {
        var consumer = new Consumer(id, new NoObserver(), prefetch, _clock.GetUtcNow());
        _set.Add(consumer);
        return consumer;
    }

    /// <summary>Leases the next <paramref name="count"/> messages as dispatch does, and says to whom.</summary>
    private List<string> Dispatch(int count)
    {
        var to = new List<string>();
        while (to.Count < count && _set.NextWithCredit() is { } consumer)
        {
            consumer.InFlight++;
            to.Add(consumer.Id);
        }

        return to;
    }

    [Fact]
    public void Consumers_with_room_take_turns_whatever_their_prefetch()
    {
        Add("a", 100);
        Add("b", 100);
        Add("c", 100);
        Assert.Equal(["a", "b", "c", "a", "b", "c", "a"], Dispatch(7));
    }

    [Fact]
    public void No_consumer_gets_more_than_its_prefetch_and_an_ack_gives_room_back()
    {
        var small = Add("small", 1);
        Add("big", 3);
        Assert.Equal(["small", "big", "big", "big"], Dispatch(10));
        Assert.Null(_set.NextWithCredit());

        small.InFlight--;
        Assert.Equal(["small"], Dispatch(10));
    }

    [Fact]
    public void A_suspended_consumer_is_passed_over_until_it_registers_again()
    {
        var a = Add("a", 10);
        Add("b", 10);
        a.Suspended = true;
        Assert.Equal(["b", "b", "b"], Dispatch(3));

        a.Suspended = false;
        Assert.Equal(["a", "b"], Dispatch(2));
    }

    [Fact]
    public void Removing_a_consumer_keeps_the_turn_with_the_one_after_the_last_served()
    {
        Add("a", 10);
        var b = Add("b", 10);
        Add("c", 10);
        Add("d", 10);
        Assert.Equal(["a", "b"], Dispatch(2));

        _set.Remove(b);
        Assert.False(_set.IsCurrent(b));
        Assert.Equal(["c", "d", "a", "c"], Dispatch(4));
    }

    [Fact]
    public void A_consumer_replaced_under_its_id_is_no_longer_current()
    {
        var first = Add("same", 1);
        _set.Remove(first);
        var second = Add("same", 1);

        Assert.False(_set.IsCurrent(first));
        Assert.True(_set.IsCurrent(second));
        Assert.True(_set.TryGet("same", out var found));
        Assert.Same(second, found);
    }

    [Fact]
    public void Consumers_not_seen_within_their_lifetime_are_the_stale_ones()
    {
        var quiet = Add("quiet", 1);
        var renewing = Add("renewing", 1);
        _clock.Advance(TimeSpan.FromSeconds(30));
        renewing.LastSeen = _clock.GetUtcNow();
        _clock.Advance(TimeSpan.FromSeconds(1));

        Assert.Equal([quiet], _set.NotSeenSince(_clock.GetUtcNow() - TimeSpan.FromSeconds(30)));
        Assert.Empty(_set.NotSeenSince(_clock.GetUtcNow() - TimeSpan.FromSeconds(31)));
    }

    private sealed class NoObserver : IConsumerObserver
    {
        public Task Deliver(IReadOnlyList<Delivery> deliveries) => Task.CompletedTask;

        public Task Moving() => Task.CompletedTask;
    }
}
