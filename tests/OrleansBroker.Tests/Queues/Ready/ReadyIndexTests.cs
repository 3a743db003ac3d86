using System.Text;
using OrleansBroker.Server.Log;
using OrleansBroker.Server.Queues.Ready;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Queues.Ready;

/// <summary>The ready order and message groups without a silo: priority then FIFO, one turn per key, turns held through recovery and growth.</summary>
public sealed class ReadyIndexTests
{
    private readonly SegmentIndex _log = new(1 << 20);
    private readonly HashSet<long> _busy = [];
    private bool _held;
    private readonly ReadyIndex _ready;

    public ReadyIndexTests() => _ready = new ReadyIndex(s => _log.TryGetEntry(s, out var e) && !_busy.Contains(s) ? e : null, () => _held);

    /// <summary>Live entries for messages 1..n of one segment, with the given priorities and keys (null: none).</summary>
    private List<LogEntry> Messages(params (byte Priority, string? Key)[] traits)
    {
        var messages = traits.Select((t, i) => new StoredMessage(i + 1, $"m{i + 1}", Encoding.UTF8.GetBytes("x"), null, null, null, TestClock.Start, Priority: t.Priority, OrderingKey: t.Key)).ToList();
        var live = new List<LogEntry>();
        _log.Register(new Segment(0, new StoredRecord<SegmentRecord> { State = new SegmentRecord { Messages = messages } }, new StoredRecord<SegmentStateRecord>()), live);
        return live;
    }

    private List<long> Drain()
    {
        var order = new List<long>();
        while (_ready.TryPeek(out _))
        {
            order.Add(_ready.Dequeue());
        }

        return order;
    }

    [Fact]
    public void Higher_priority_goes_first_then_publish_order_and_a_message_put_back_returns_to_its_place()
    {
        var entries = Messages((0, null), (5, null), (0, null), (5, null));
        _ready.Recovering = false;
        foreach (var entry in entries)
        {
            _ready.MakeReady(entry);
        }

        Assert.Equal(2, _ready.Dequeue());
        _ready.MakeReady(entries[1]);
        Assert.Equal([2L, 4, 1, 3], Drain());
    }

    [Fact]
    public void One_message_per_key_at_a_time_and_the_turn_passes_only_when_it_leaves_the_queue()
    {
        var entries = Messages((0, "a"), (0, "a"), (0, "b"), (0, "a"));
        _ready.Recovering = false;
        foreach (var entry in entries)
        {
            _ready.MakeReady(entry);
        }

        Assert.Equal([1L, 3], Drain());

        // Retried: the holder comes back before its successors; acked: the next in line gets the turn.
        _ready.MakeReady(entries[0]);
        Assert.Equal([1L], Drain());
        _ready.Finish(entries[0]);
        Assert.Equal([2L], Drain());

        // A successor that is busy elsewhere (leased, leaving) is passed over.
        _busy.Add(4);
        _ready.Finish(entries[1]);
        Assert.Empty(Drain());
        _ready.Finish(entries[2]);
        Assert.Empty(_ready.GroupKeys);
    }

    [Fact]
    public void While_recovery_runs_or_growth_holds_keys_only_what_may_take_a_turn_does()
    {
        var entries = Messages((0, "a"), (0, "a"), (0, null));
        _ready.RecoveredThrough = 1;
        _ready.MakeReady(entries[1]);
        _ready.MakeReady(entries[2]);
        Assert.Equal([3L], Drain());

        // An older message of the key is handed over by recovery: it takes the turn first.
        _ready.MakeReady(entries[0]);
        Assert.Equal([1L], Drain());
        _ready.Finish(entries[0]);
        Assert.Empty(Drain());
        _ready.RecoveredThrough = 3;
        _ready.Recovering = false;
        _held = true;
        _ready.ResumeGroups();
        Assert.Empty(Drain());
        _held = false;
        _ready.ResumeGroups();
        Assert.Equal([2L], Drain());
    }

    [Fact]
    public void A_retry_recovered_waiting_for_its_time_keeps_its_turn_and_purge_takes_all_but_the_holder_in_flight()
    {
        var entries = Messages((0, "a"), (0, "a"), (0, "b"), (0, "b"), (0, null));
        _ready.Recovering = false;
        _ready.HoldTurn(entries[0]);
        _ready.MakeReady(entries[1]);
        Assert.Empty(Drain());
        _ready.MakeReady(entries[2]);
        _ready.MakeReady(entries[3]);
        _ready.MakeReady(entries[4]);

        var taken = _ready.TakeAll(inFlight: s => s == 1);
        Assert.Equal([2L, 3, 4, 5], taken.Order());
        Assert.Equal(["a"], _ready.GroupKeys);
        Assert.Equal(0, _ready.Count);
    }
}
