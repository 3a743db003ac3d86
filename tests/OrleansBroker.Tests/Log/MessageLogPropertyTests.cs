using CsCheck;
using Orleans.Storage;
using OrleansBroker.Server.Log;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Tests.Storage;
using Xunit;

namespace OrleansBroker.Tests.Log;

/// <summary>
/// The message log over random sequences of publishes, settles, delivery attempts, storage that fails part-way through a
/// commit and comes back, and crashes (the log object dropped and loaded again from what storage holds). After every crash: no confirmed
/// publish is lost, no failed one appears, no confirmed settle comes back, attempts never go down, the count is exact and
/// no sequence number of a message in storage, or confirmed, is handed out again. In memory (serialized like the real stores), so hundreds of runs take seconds.
/// </summary>
public sealed class MessageLogPropertyTests
{
    private enum Kind
    {
        Publish,
        Settle,
        Attempt,
        FailAfter,
        Drop,
        Heal,
        Crash,
    }

    private sealed record Op(Kind Kind, int Value)
    {
        public override string ToString() => $"{Kind}({Value})";
    }

    private static readonly Gen<Op[]> Ops = Gen.Frequency(
        (4, Gen.Int[1, 4].Select(n => new Op(Kind.Publish, n))),
        (3, Gen.Int[0, 1000].Select(n => new Op(Kind.Settle, n))),
        (2, Gen.Int[0, 1000].Select(n => new Op(Kind.Attempt, n))),
        (1, Gen.Int[0, 4].Select(n => new Op(Kind.FailAfter, n))),
        (1, Gen.Int[1, 255].Select(n => new Op(Kind.Drop, n))),
        (1, Gen.Const(new Op(Kind.Heal, 0))),
        (1, Gen.Const(new Op(Kind.Crash, 0)))).Array[1, 40];

    [Fact]
    public Task Confirmed_work_survives_crashes_and_failed_work_never_appears() =>
        Ops.SampleAsync(ops => new Run().ExecuteAsync(ops), iter: 300, threads: 1, print: ops => string.Join(" ", ops.Select(o => o.ToString())));

    /// <summary>
    /// Found by the property above: a segment whose last message is settled is deleted; its settle record went first, so a
    /// commit cut short after that left the segment without its settles, and a message acked long before came back.
    /// </summary>
    [Fact]
    public Task A_segment_deletion_cut_short_brings_no_acked_message_back() => new Run().ExecuteAsync(
        [new(Kind.Publish, 2), new(Kind.Attempt, 0), new(Kind.Settle, 1), new(Kind.FailAfter, 1), new(Kind.Settle, 0), new(Kind.Publish, 3)]);

    /// <summary>One sequence of operations against a fresh log, with a model of what is known to be durable.</summary>
    private sealed class Run
    {
        private readonly SerializingMemoryStorage _records = SerializingMemoryStorage.New();
        private readonly CrashingStorage _storage;
        private readonly LogHarness _harness;
        private readonly List<long> _live = [];
        private readonly HashSet<long> _settled = [];
        private readonly HashSet<long> _failed = [];
        private readonly HashSet<long> _maybePublished = [];
        private readonly HashSet<long> _maybeSettled = [];
        private readonly Dictionary<long, int> _attempts = [];
        private MessageLog _log;

        public Run()
        {
            _storage = new CrashingStorage(_records);
            // Small segments: commits spread over many segment records, some deleted, some not.
            _harness = new LogHarness(_storage, new MessageLogOptions(SegmentMaxBytes: 1024 * 1024, SegmentMaxMessages: 3, ResidentBytes: 1024, CommitLinger: TimeSpan.Zero));
            _log = _harness.NewLog();
        }

        public async Task ExecuteAsync(Op[] ops)
        {
            // As a queue's creation does: its metadata is stored before anything is published.
            await _harness.RunAsync(async () =>
            {
                await _log.LoadAsync();
                _log.UpdateMeta(meta => meta.Created = true);
                await _log.CommitAsync();
            });
            foreach (var op in ops)
            {
                await _harness.RunAsync(() => ApplyAsync(op));
            }

            await _harness.RunAsync(CrashAsync);
        }

        private async Task ApplyAsync(Op op)
        {
            switch (op.Kind)
            {
                case Kind.Publish:
                    var messages = LogHarness.Messages(_log, op.Value);
                    foreach (var message in messages)
                    {
                        // A number may come again only if nothing of its first use reached storage.
                        Assert.False(_storage.Landed.Contains(message.Sequence) || _live.Contains(message.Sequence) || _settled.Contains(message.Sequence) || _maybeSettled.Contains(message.Sequence),
                            $"sequence {message.Sequence}, stored before, handed out again");
                    }

                    var confirmed = await Succeeds(_log.AppendAsync(messages));
                    foreach (var message in messages)
                    {
                        // A failed publish's number can come again (nothing of it was stored); the latest use is the one that counts.
                        // Its records written in storage order, a failed commit leaves nothing of itself behind; with any of them
                        // dropped (records landing in any order, as with a remote store), it may have landed whole all the same.
                        _failed.Remove(message.Sequence);
                        (confirmed ? _live : _storage.Scrambled ? _maybePublished : (ICollection<long>)_failed).Add(message.Sequence);
                    }

                    break;
                case Kind.Settle when _live.Count > 0:
                    var settled = _live[op.Value % _live.Count];
                    Assert.True(_log.Settle(settled), $"live message {settled} could not be settled");
                    // As a queue counts an ack: in the metadata, with the same commit.
                    _log.UpdateMeta(meta => meta.Counters = meta.Counters with { Acked = meta.Counters.Acked + 1 });
                    _live.Remove(settled);
                    (await Succeeds(_log.CommitAsync()) ? _settled : _maybeSettled).Add(settled);
                    break;
                case Kind.Attempt when _live.Count > 0:
                    var attempted = _live[op.Value % _live.Count];
                    Assert.True(_log.TryGetEntry(attempted, out var entry), $"live message {attempted} has no entry");
                    _log.RecordAttempt(entry);
                    if (await Succeeds(_log.CommitPromptlyAsync()))
                    {
                        _attempts[attempted] = entry.Attempts;
                    }

                    break;
                case Kind.FailAfter:
                    _storage.WritesLeft ??= op.Value;
                    break;
                case Kind.Drop:
                    _storage.Drop(op.Value);
                    break;
                case Kind.Heal:
                    // Storage comes back without a crash: what failed is committed later by the same log.
                    _storage.Heal();
                    break;
                case Kind.Crash:
                    await CrashAsync();
                    break;
            }
        }

        /// <summary>Drops the log, brings storage back and loads it again; checks what it holds against what was confirmed.</summary>
        private async Task CrashAsync()
        {
            _storage.Heal();
            // A killed silo's log does nothing more: not even the writes a quiet log makes by itself.
            _log.Stop();
            _log = _harness.NewLog();
            await _log.LoadAsync();
            await _log.Recovery;
            var live = _log.TrackedEntries().ToDictionary(e => e.Sequence);

            foreach (var sequence in _live)
            {
                Assert.True(live.ContainsKey(sequence), $"confirmed message {sequence} was lost");
            }

            foreach (var sequence in live.Keys)
            {
                Assert.False(_failed.Contains(sequence), $"message {sequence} whose publish failed is live");
                Assert.False(_settled.Contains(sequence), $"message {sequence} whose settle was confirmed is live again");
                Assert.True(_live.Contains(sequence) || _maybeSettled.Contains(sequence) || _maybePublished.Contains(sequence), $"message {sequence} was never published");
            }

            foreach (var (sequence, attempts) in _attempts)
            {
                if (live.TryGetValue(sequence, out var entry))
                {
                    Assert.True(entry.Attempts >= attempts, $"message {sequence} went from {attempts} confirmed attempts to {entry.Attempts}");
                }
            }

            Assert.Equal(live.Count, _log.LiveCount);
            await AssertEverySegmentInStorageIsReadAsync(live);
            // A failed publish whose segment is in storage all the same must not have its numbers handed out again either.
            var used = _live.Concat(_settled).Concat(_maybeSettled).Concat(_storage.Landed).DefaultIfEmpty(0).Max();
            Assert.True(_log.Meta.NextSequence > used, $"sequence {used}, stored before, would be handed out again (next is {_log.Meta.NextSequence})");

            // What a failed settle did is known now.
            foreach (var sequence in _maybeSettled)
            {
                (live.ContainsKey(sequence) ? _live : (ICollection<long>)_settled).Add(sequence);
            }

            foreach (var sequence in _maybePublished.Where(live.ContainsKey))
            {
                _live.Add(sequence);
            }

            _maybeSettled.Clear();
            _maybePublished.Clear();
            _live.Sort();

            // The counts hold each message once, whatever part of a commit a crash cut off.
            Assert.Equal(_settled.Count, _log.Meta.Counters.Acked);
            Assert.Equal(_live.Count + _settled.Count, _log.Meta.Counters.Published);
        }

        /// <summary>
        /// Every message that storage holds unsettled in a segment of the log (by its settle record, or the newer state the
        /// metadata carries) is live after recovery: none is left unread.
        /// </summary>
        private async Task AssertEverySegmentInStorageIsReadAsync(Dictionary<long, LogEntry> live)
        {
            var carried = _log.Meta.CarriedSettles.ToDictionary(c => c.Segment);
            foreach (var name in _records.Names(_harness.GrainId).Where(n => n.StartsWith('s')))
            {
                var id = long.Parse(name[1..], System.Globalization.CultureInfo.InvariantCulture);
                if (id < _log.Meta.FirstSegment || id >= _log.Meta.NextSegment || carried.TryGetValue(id, out var cleared) && cleared.State is null)
                {
                    continue;
                }

                var record = new StoredRecord<SegmentRecord>();
                await _records.ReadStateAsync(name, _harness.GrainId, record);
                var settles = new StoredRecord<SegmentStateRecord>();
                await _records.ReadStateAsync("a" + name[1..], _harness.GrainId, settles);
                var segment = new Segment(id, record, settles);
                segment.LoadSettled(carried.TryGetValue(id, out var newer) ? newer.State!.Settled : settles.State.Settled);
                for (var i = 0; i < segment.Count; i++)
                {
                    Assert.True(segment.IsSettled(i) || live.ContainsKey(segment.SequenceAt(i)),
                        $"message {segment.SequenceAt(i)} of segment {id} is in storage unsettled but recovery did not read it");
                }
            }
        }

        private static async Task<bool> Succeeds(Task commit)
        {
            try
            {
                await commit;
                return true;
            }
            catch (Exception exception) when (exception is OrleansBroker.Errors.BrokerException)
            {
                return false;
            }
        }
    }

    /// <summary>
    /// Storage that, once told, lets a given number of writes and deletes through and fails every one after, until the crash;
    /// or drops some of the next eight (records landing in any order) and fails every one after.
    /// </summary>
    private sealed class CrashingStorage(IGrainStorage inner) : IGrainStorage
    {
        private int _dropMask;

        public int? WritesLeft { get; set; }

        /// <summary>Whether writes were dropped out of order since storage last came back.</summary>
        public bool Scrambled { get; private set; }

        /// <summary>Of the next eight writes, drops those whose bit is set in <paramref name="mask"/>; fails every one after.</summary>
        public void Drop(int mask)
        {
            if (WritesLeft is null)
            {
                _dropMask = mask;
                WritesLeft = 8;
                Scrambled = true;
            }
        }

        /// <summary>Storage is back: every write goes through.</summary>
        public void Heal()
        {
            WritesLeft = null;
            _dropMask = 0;
            Scrambled = false;
        }

        public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) => inner.ReadStateAsync(stateName, grainId, grainState);

        private readonly Dictionary<string, long[]> _segments = [];

        /// <summary>Sequences in the segment records storage holds now, whether or not their commit succeeded.</summary>
        public IEnumerable<long> Landed => _segments.Values.SelectMany(s => s);

        public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            if (!Allowed())
            {
                return Task.FromException(new IOException($"storage down (write of {stateName})"));
            }

            if (grainState.State is SegmentRecord segment)
            {
                _segments[stateName] = [.. segment.Messages.Select(m => m.Sequence)];
            }

            return inner.WriteStateAsync(stateName, grainId, grainState);
        }

        public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
        {
            if (!Allowed())
            {
                return Task.FromException(new IOException($"storage down (clear of {stateName})"));
            }

            _segments.Remove(stateName);
            return inner.ClearStateAsync(stateName, grainId, grainState);
        }

        private bool Allowed()
        {
            if (WritesLeft is null)
            {
                return true;
            }

            if (WritesLeft-- <= 0)
            {
                return false;
            }

            var dropped = (_dropMask & 1) != 0;
            _dropMask >>= 1;
            return !dropped;
        }
    }
}
