using System.Text;
using CsCheck;
using OrleansBroker.Server.Log;
using OrleansBroker.Server.Queues.Ready;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Queues.Ready;

/// <summary>
/// The ready order and message groups under random publishes, deliveries, acks and retries: never two messages of a key
/// out at once, a key's messages acked in publish order, and every message delivered in the end (no turn is lost).
/// </summary>
public sealed class ReadyIndexPropertyTests
{
    private enum Kind
    {
        Publish,
        Deliver,
        Ack,
        Retry,
    }

    private sealed record Op(Kind Kind, int Value)
    {
        public override string ToString() => $"{Kind}({Value})";
    }

    private static readonly Gen<(byte Priority, string? Key)[]> MessagesGen =
        Gen.Select(Gen.Byte[0, 2], Gen.Int[0, 3].Select(i => i == 0 ? null : ((char)('a' + i - 1)).ToString())).Array[1, 30];

    private static readonly Gen<Op[]> OpsGen = Gen.Frequency(
        (3, Gen.Const(new Op(Kind.Publish, 0))),
        (3, Gen.Const(new Op(Kind.Deliver, 0))),
        (2, Gen.Int[0, 100].Select(n => new Op(Kind.Ack, n))),
        (1, Gen.Int[0, 100].Select(n => new Op(Kind.Retry, n)))).Array[0, 80];

    [Fact]
    public void A_key_has_one_message_out_at_a_time_acked_in_order_and_nothing_is_stranded() =>
        Gen.Select(MessagesGen, OpsGen).Sample((messages, ops) => new Run(messages).Execute(ops), iter: 500, threads: 1,
            print: t => $"{string.Join(",", t.Item1.Select(m => $"{m.Priority}{m.Key ?? "-"}"))} | {string.Join(" ", t.Item2.Select(o => o.ToString()))}");

    private sealed class Run
    {
        private readonly SegmentIndex _log = new(1 << 20);
        private readonly List<LogEntry> _entries = [];
        private readonly List<long> _out = [];
        private readonly Dictionary<string, List<long>> _ackedByKey = [];
        private readonly ReadyIndex _ready;
        private int _published;

        public Run((byte Priority, string? Key)[] messages)
        {
            var stored = messages.Select((m, i) => new StoredMessage(i + 1, $"m{i + 1}", Encoding.UTF8.GetBytes("x"), null, null, null, TestClock.Start,
                Priority: m.Priority, OrderingKey: m.Key)).ToList();
            _log.Register(new Segment(0, new StoredRecord<SegmentRecord> { State = new SegmentRecord { Messages = stored } }, new StoredRecord<SegmentStateRecord>()), _entries);
            _ready = new ReadyIndex(s => _log.TryGetEntry(s, out var e) && !_out.Contains(s) ? e : null, () => false) { Recovering = false };
        }

        public void Execute(Op[] ops)
        {
            foreach (var op in ops)
            {
                Apply(op);
                AssertOneOutPerKey();
            }

            // Everything published, then delivered and acked one by one: each message exactly once, none left behind.
            while (_published < _entries.Count)
            {
                Apply(new Op(Kind.Publish, 0));
            }

            while (_out.Count > 0)
            {
                Apply(new Op(Kind.Ack, 0));
            }

            for (var round = 0; round < _entries.Count && Deliver(); round++)
            {
                Apply(new Op(Kind.Ack, 0));
                AssertOneOutPerKey();
            }

            Assert.Equal(0, _log.TrackedCount);
            Assert.Empty(_ready.GroupKeys);
        }

        private void Apply(Op op)
        {
            switch (op.Kind)
            {
                case Kind.Publish when _published < _entries.Count:
                    _ready.MakeReady(_entries[_published++]);
                    break;
                case Kind.Deliver:
                    Deliver();
                    break;
                case Kind.Ack when _out.Count > 0:
                    var acked = _out[op.Value % _out.Count];
                    Assert.True(_log.TryGetEntry(acked, out var entry));
                    _out.Remove(acked);
                    Assert.True(_log.Settle(entry));
                    _ready.Finish(entry);
                    if (entry.OrderingKey is { } key)
                    {
                        if (!_ackedByKey.TryGetValue(key, out var order))
                        {
                            _ackedByKey[key] = order = [];
                        }

                        if (order.Count > 0)
                        {
                            Assert.True(order[^1] < acked, $"key {key}: {acked} acked after {order[^1]}");
                        }

                        order.Add(acked);
                    }

                    break;
                case Kind.Retry when _out.Count > 0:
                    var retried = _out[op.Value % _out.Count];
                    _out.Remove(retried);
                    Assert.True(_log.TryGetEntry(retried, out var back));
                    _ready.MakeReady(back);
                    break;
            }
        }

        /// <summary>As the queue's dispatch does: skips what is settled or out already, leases the first idle message.</summary>
        private bool Deliver()
        {
            while (_ready.TryPeek(out _))
            {
                var sequence = _ready.Dequeue();
                if (_log.TryGetEntry(sequence, out _) && !_out.Contains(sequence))
                {
                    _out.Add(sequence);
                    return true;
                }
            }

            return false;
        }

        private void AssertOneOutPerKey()
        {
            var keys = _out.Select(s => _entries[(int)s - 1].OrderingKey).OfType<string>().ToList();
            Assert.True(keys.Count == keys.Distinct().Count(), $"two messages of one key out at once: {string.Join(",", _out)}");
        }
    }
}
