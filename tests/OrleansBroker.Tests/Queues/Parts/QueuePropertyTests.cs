using CsCheck;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using Xunit;

namespace OrleansBroker.Tests.Queues.Parts;

/// <summary>
/// The whole queue (ready order, groups, dispatcher, leases, retries, dead letters, log) over random sequences of publishes
/// (keyed or not), consumers coming, acks, abandons, the clock jumping past leases and backoffs, ticks and crashes. After every
/// step: no message is leased to two deliveries at once, a keyed message goes out only once every older message of its key
/// has left the queue, a message's attempts only go up (also across a crash), and every message published is live, acked or
/// dead-lettered, and only one of these.
/// </summary>
public sealed class QueuePropertyTests
{
    private enum Kind
    {
        Publish,
        Subscribe,
        Ack,
        Abandon,
        Advance,
        Tick,
        Crash,
    }

    private sealed record Op(Kind Kind, int Value)
    {
        public override string ToString() => $"{Kind}({Value})";
    }

    private static readonly Gen<Op[]> Ops = Gen.Frequency(
        (4, Gen.Int[0, 11].Select(n => new Op(Kind.Publish, n))),
        (2, Gen.Int[0, 8].Select(n => new Op(Kind.Subscribe, n))),
        (4, Gen.Int[0, 2].Select(n => new Op(Kind.Ack, n))),
        (2, Gen.Int[0, 2].Select(n => new Op(Kind.Abandon, n))),
        (2, Gen.Int[1, 25].Select(n => new Op(Kind.Advance, n))),
        (1, Gen.Const(new Op(Kind.Tick, 0))),
        (1, Gen.Const(new Op(Kind.Crash, 0)))).Array[1, 40];

    [Fact]
    public Task Nothing_is_lost_leased_twice_reordered_within_a_key_or_counted_down() =>
        Ops.SampleAsync(ops => new Run().ExecuteAsync(ops), iter: 150, threads: 1, print: ops => string.Join(" ", ops.Select(o => o.ToString())));

    private sealed class Run
    {
        private static readonly QueueOptions Options = new()
        {
            LeaseDuration = TimeSpan.FromSeconds(10),
            MaxDeliveryAttempts = 3,
            Retry = RetryPolicy.FixedDelay(TimeSpan.FromSeconds(3)),
        };

        private readonly Dictionary<string, TestConsumer> _consumers = [];
        private readonly List<(string Id, string? Key)> _published = [];
        private readonly HashSet<string> _acked = new(StringComparer.Ordinal);
        private readonly Dictionary<string, int> _attempts = new(StringComparer.Ordinal);
        private readonly List<Delivery> _journal = [];
        private int _checked;
        private QueueCoreHarness _queue = null!;
        private int _next;

        public async Task ExecuteAsync(Op[] ops)
        {
            _queue = await QueueCoreHarness.CreateAsync(Options);
            foreach (var op in ops)
            {
                await ApplyAsync(op);
                await CheckAsync();
            }
        }

        private async Task ApplyAsync(Op op)
        {
            switch (op.Kind)
            {
                case Kind.Publish:
                    // 0-3 unkeyed, 4-11 keyed over three keys, one or two messages.
                    var key = op.Value < 4 ? null : $"k{op.Value % 3}";
                    var batch = Enumerable.Range(0, 1 + (op.Value % 2)).Select(_ => (Id: $"m{_next++}", Key: key)).ToList();
                    await _queue.PublishAsync([.. batch.Select(m => QueueCoreHarness.Message(m.Id, m.Key))]);
                    _published.AddRange(batch);
                    break;
                case Kind.Subscribe:
                    var id = $"c{op.Value % 3}";
                    var consumer = _consumers.GetValueOrDefault(id) ?? new TestConsumer(id, _journal);
                    _consumers[id] = consumer;
                    consumer.Prefetch = 1 + (op.Value / 3);
                    await _queue.RunAsync(() => _queue.Core.Dispatcher.Register(id, consumer.Prefetch, consumer));
                    await _queue.QuiesceAsync();
                    break;
                case Kind.Ack or Kind.Abandon:
                    if (_consumers.GetValueOrDefault($"c{op.Value}") is { Holding.Count: > 0 } holder)
                    {
                        var delivery = holder.Take();
                        var status = await _queue.SettleAsync(op.Kind == Kind.Ack ? SettleKind.Ack : SettleKind.Requeue, delivery);
                        if (op.Kind == Kind.Ack && status[0] == SettleStatus.Ok)
                        {
                            Assert.True(_acked.Add(delivery.MessageId), $"{delivery.MessageId} acked twice");
                        }
                    }

                    break;
                case Kind.Advance:
                    // Live consumers renew their registration, as the client does every renew interval (at most 25 s pass here,
                    // less than a registration's 30 s lifetime).
                    foreach (var (id3, consumer3) in _consumers)
                    {
                        await _queue.RunAsync(() => _queue.Core.Dispatcher.Register(id3, consumer3.Prefetch, consumer3));
                    }

                    await _queue.AdvanceAsync(TimeSpan.FromSeconds(op.Value));
                    break;
                case Kind.Tick:
                    await _queue.TickAsync();
                    break;
                case Kind.Crash:
                    await _queue.CrashAsync();

                    // Their leases died with the activation: what they hold comes again; they register with the new one.
                    foreach (var (id2, consumer2) in _consumers)
                    {
                        consumer2.Holding.Clear();
                        await _queue.RunAsync(() => _queue.Core.Dispatcher.Register(id2, consumer2.Prefetch, consumer2));
                    }

                    await _queue.QuiesceAsync();
                    break;
            }
        }

        private async Task CheckAsync()
        {
            var now = _queue.Time.GetUtcNow();
            var deliveries = _consumers.Values.SelectMany(c => c.Received).ToList();

            // One live lease per message at any time.
            var unexpired = deliveries.Where(d => d.LeaseExpiresAt > now && !_acked.Contains(d.MessageId))
                .Where(d => _consumers.Values.Any(c => c.Holding.Contains(d)));
            foreach (var twice in unexpired.GroupBy(d => d.Sequence).Where(g => g.Count() > 1))
            {
                Assert.Fail($"message {twice.Key} is leased to {twice.Count()} deliveries at once at {now:HH:mm:ss}: " +
                    string.Join("; ", twice.Select(d => $"{d.MessageId} attempt {d.Attempt} token {d.LeaseToken} until {d.LeaseExpiresAt:HH:mm:ss}")));
            }

            // Attempts only go up, across crashes too.
            foreach (var delivery in _journal.Skip(_checked))
            {
                var seen = _attempts.GetValueOrDefault(delivery.MessageId);
                if (delivery.Attempt < seen)
                {
                    Assert.Fail($"{delivery.MessageId} delivered as attempt {delivery.Attempt} after attempt {seen}");
                }

                _attempts[delivery.MessageId] = Math.Max(seen, delivery.Attempt);
                Assert.InRange(delivery.Attempt, 1, Options.MaxDeliveryAttempts);
            }

            _checked = _journal.Count;

            var lettered = _queue.DeadLetters.Letters.Select(l => l.Id!).ToHashSet(StringComparer.Ordinal);
            var live = (await _queue.PeekAsync()).Select(m => m.MessageId).ToHashSet(StringComparer.Ordinal);
            CheckKeyOrder(deliveries, live);
            foreach (var (id, _) in _published)
            {
                var places = (live.Contains(id) ? 1 : 0) + (_acked.Contains(id) ? 1 : 0) + (lettered.Contains(id) ? 1 : 0);
                Assert.True(places == 1, $"{id}: live {live.Contains(id)}, acked {_acked.Contains(id)}, dead-lettered {lettered.Contains(id)}");
            }
        }

        /// <summary>A keyed message was sent only when no older message of its key was still in the queue then: it is acked or dead-lettered by now.</summary>
        private void CheckKeyOrder(List<Delivery> deliveries, HashSet<string> live)
        {
            var index = _published.Select((m, i) => (m.Id, m.Key, i)).ToDictionary(m => m.Id, StringComparer.Ordinal);
            foreach (var delivery in deliveries.Where(d => d.OrderingKey is not null))
            {
                var position = index[delivery.MessageId].i;
                foreach (var older in _published.Take(position).Where(m => m.Key == delivery.OrderingKey))
                {
                    if (live.Contains(older.Id))
                    {
                        Assert.Fail($"{delivery.MessageId} (key {delivery.OrderingKey}) was delivered while {older.Id} of its key is still in the queue");
                    }
                }
            }
        }
    }
}
