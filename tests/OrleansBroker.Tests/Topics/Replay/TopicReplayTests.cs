using System.Text;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Topics.Replay;
using OrleansBroker.Server.Topics.Routing;
using OrleansBroker.Server.Topics.Transforms;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Topics;
using Xunit;

namespace OrleansBroker.Tests.Topics.Replay;

/// <summary>A replay over a retained queue in memory: its window, its cursor after every page, retries, replacement and its end.</summary>
public sealed class TopicReplayTests
{
    private static readonly DateTimeOffset Start = TestClock.Start;
    private readonly Microsoft.Extensions.Time.Testing.FakeTimeProvider _clock = TestClock.New();

    private static Route Route(params string[] keys) => new TopicRouter("feed", new TopicOptions { RetentionTime = TimeSpan.FromDays(1) },
        [new Subscription("late", keys.Length == 0 ? SubscriptionFilter.All : new SubscriptionFilter(keys), new QueueOptions())], new TransformRegistry([])).Routes[0];

    private static ReplayCursor Cursor(DateTimeOffset since, DateTimeOffset until, long after = 0) => new("r1", "late", since, until, Deduplicate: true, after, 0);

    /// <summary>Retained message n, published at minute n, with routing key "even" or "odd".</summary>
    private static PeekedMessage Retained(long n) => new(n, $"m{n}", Encoding.UTF8.GetBytes($"m{n}"), null, null, n % 2 == 0 ? "even" : "odd",
        Start.AddMinutes(n), 0, MessageState.Ready, null);

    [Fact]
    public async Task A_replay_takes_its_window_and_what_the_filter_matches_storing_its_cursor_after_every_page()
    {
        var io = new FakeIo(Enumerable.Range(1, 2500).Select(n => Retained(n)));
        var replay = new TopicReplay("feed", Route("even"), 1024, _clock, io);
        var outcome = await replay.RunAsync(Cursor(Start.AddMinutes(100), Start.AddMinutes(2200)), () => false, (_, _, _) => { });

        Assert.True(outcome.Done);
        var expected = Enumerable.Range(100, 2101).Where(n => n % 2 == 0).Select(n => $"m{n}").ToList();
        Assert.Equal(expected, io.Stored.Select(m => m.Id));
        Assert.Equal(expected.Count, outcome.Cursor.Replayed);
        Assert.Equal([TopicReplay.PageSize, 2 * TopicReplay.PageSize, 2500], io.Saved.Where(s => !s.Done).Select(s => s.Cursor.After));
        Assert.True(io.Saved[^1].Done);
    }

    [Fact]
    public async Task A_replay_goes_on_from_its_cursor_and_retries_a_passing_failure_from_there()
    {
        var io = new FakeIo(Enumerable.Range(1, 30).Select(n => Retained(n))) { FailStores = 2 };
        var retries = 0;
        var replay = new TopicReplay("feed", Route(), 1024, _clock, io);
        var run = replay.RunAsync(Cursor(Start, Start.AddDays(1), after: 20), () => false, (_, _, _) => retries++);

        await Eventually.HoldsAsync(() =>
        {
            _clock.Advance(TimeSpan.FromMilliseconds(50));
            return run.IsCompleted;
        }, "the replay done");
        var outcome = await run;

        Assert.True(outcome.Done);
        Assert.Equal(2, retries);
        Assert.Equal(Enumerable.Range(21, 10).Select(n => $"m{n}"), io.Stored.Select(m => m.Id));
        Assert.Equal([20L], io.PeekedAfter.Distinct().Take(1));
    }

    [Fact]
    public async Task A_replaced_replay_stops_and_one_whose_queue_is_gone_ends_with_the_error()
    {
        var replaced = new FakeIo(Enumerable.Range(1, 2500).Select(n => Retained(n))) { Replaced = true };
        var outcome = await new TopicReplay("feed", Route(), 1024, _clock, replaced).RunAsync(Cursor(Start, Start.AddDays(1)), () => false, (_, _, _) => { });
        Assert.False(outcome.Done);
        Assert.Null(outcome.Error);
        Assert.Single(replaced.PeekedAfter);

        var gone = new FakeIo(Enumerable.Range(1, 5).Select(n => Retained(n))) { StoreError = new BrokerException(BrokerErrorCode.QueueNotFound, "gone") };
        var ended = await new TopicReplay("feed", Route(), 1024, _clock, gone).RunAsync(Cursor(Start, Start.AddDays(1)), () => false, (_, _, _) => { });
        Assert.Equal(BrokerErrorCode.QueueNotFound, ended.Error!.Code);
        Assert.True(gone.Saved.Single().Done);
    }

    private sealed class FakeIo(IEnumerable<PeekedMessage> retained) : IReplayIo
    {
        private readonly List<PeekedMessage> _retained = [.. retained];

        public int FailStores { get; set; }

        public BrokerException? StoreError { get; init; }

        public bool Replaced { get; init; }

        public List<BrokerMessage> Stored { get; } = [];

        public List<(ReplayCursor Cursor, bool Done)> Saved { get; } = [];

        public List<long> PeekedAfter { get; } = [];

        public Task<IReadOnlyList<PeekedMessage>> PeekRetainedAsync(long after, int max)
        {
            PeekedAfter.Add(after);
            return Task.FromResult<IReadOnlyList<PeekedMessage>>([.. _retained.Where(m => m.Sequence > after).Take(max)]);
        }

        public Task StoreAsync(Route route, IReadOnlyList<BrokerMessage> messages, bool deduplicate)
        {
            if (StoreError is { } error)
            {
                throw error;
            }

            if (FailStores-- > 0)
            {
                throw new BrokerException(BrokerErrorCode.StorageUnavailable, "storage down");
            }

            Stored.AddRange(messages);
            return Task.CompletedTask;
        }

        public Task DeadLetterAsync(Route route, IReadOnlyList<BrokerMessage> messages) => Task.CompletedTask;

        public Task<bool> SaveAsync(ReplayCursor cursor, bool done)
        {
            Saved.Add((cursor, done));
            return Task.FromResult(!Replaced);
        }
    }
}
