using Microsoft.Extensions.Time.Testing;
using OrleansBroker.Server.Queues.Scheduling;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Queues.Scheduling;

/// <summary>Scheduled and backed-off messages on a clock the test moves: due on time, earliest first, none twice.</summary>
public sealed class DelayScheduleTests
{
    private readonly FakeTimeProvider _clock = TestClock.New();
    private readonly DelaySchedule _schedule = new();

    private long In(TimeSpan wait) => (_clock.GetUtcNow() + wait).UtcTicks;

    private long Now => _clock.GetUtcNow().UtcTicks;

    [Fact]
    public void A_message_is_due_at_its_time_and_not_a_tick_before()
    {
        _schedule.Add(1, In(TimeSpan.FromSeconds(5)));
        Assert.Equal(In(TimeSpan.FromSeconds(5)), _schedule.NextDue);

        _clock.Advance(TimeSpan.FromSeconds(5) - TimeSpan.FromTicks(1));
        Assert.Empty(_schedule.TakeDue(Now));
        Assert.Equal(1, _schedule.Count);

        _clock.Advance(TimeSpan.FromTicks(1));
        Assert.Equal([1L], _schedule.TakeDue(Now));
        Assert.Equal(0, _schedule.Count);
        Assert.Equal(long.MaxValue, _schedule.NextDue);
    }

    [Fact]
    public void Due_messages_come_earliest_first_and_the_next_wake_is_the_earliest_still_waiting()
    {
        _schedule.Add(1, In(TimeSpan.FromSeconds(3)));
        _schedule.Add(2, In(TimeSpan.FromSeconds(1)));
        _schedule.Add(3, In(TimeSpan.FromSeconds(2)));
        _schedule.Add(4, In(TimeSpan.FromMinutes(1)));

        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal([2L, 3L, 1L], _schedule.TakeDue(Now));
        Assert.Equal(In(TimeSpan.FromSeconds(50)), _schedule.NextDue);
    }

    [Fact]
    public void A_message_that_left_early_never_comes_due_nor_holds_the_wake_up()
    {
        _schedule.Add(1, In(TimeSpan.FromSeconds(1)));
        _schedule.Add(2, In(TimeSpan.FromSeconds(30)));
        Assert.True(_schedule.Remove(1));
        Assert.False(_schedule.Remove(1));

        Assert.Equal(In(TimeSpan.FromSeconds(30)), _schedule.NextDue);
        _clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal([2L], _schedule.TakeDue(Now));
    }

    [Fact]
    public void A_new_time_replaces_the_old_one_so_the_message_comes_once_at_the_new_time()
    {
        _schedule.Add(1, In(TimeSpan.FromSeconds(1)));
        _schedule.Add(1, In(TimeSpan.FromSeconds(20)));
        Assert.Equal(1, _schedule.Count);

        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Empty(_schedule.TakeDue(Now));
        _clock.Advance(TimeSpan.FromSeconds(10));
        Assert.Equal([1L], _schedule.TakeDue(Now));
        Assert.Empty(_schedule.TakeDue(Now + TimeSpan.FromDays(1).Ticks));
    }

    [Fact]
    public void A_purge_takes_every_waiting_message_whatever_its_time()
    {
        _schedule.Add(5, In(TimeSpan.FromDays(1)));
        _schedule.Add(6, In(TimeSpan.FromSeconds(1)));
        _schedule.Remove(6);
        _schedule.Add(7, In(TimeSpan.FromHours(1)));

        Assert.Equal([5L, 7L], _schedule.TakeAll().Order());
        Assert.Equal(0, _schedule.Count);
        Assert.Equal(long.MaxValue, _schedule.NextDue);
    }
}
