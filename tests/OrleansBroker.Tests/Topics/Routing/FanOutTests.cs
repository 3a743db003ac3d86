using OrleansBroker.Errors;
using OrleansBroker.Server.Topics.Routing;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Topics.Routing;

/// <summary>Fan-out retries on a clock the test moves: what failed for a passing reason is tried again; anything else fails at once, naming it.</summary>
public sealed class FanOutTests
{
    private static Func<Task> Failing(int times, BrokerErrorCode code, Action? wrote = null)
    {
        var left = times;
        return () =>
        {
            if (left-- > 0)
            {
                return Task.FromException(new BrokerException(code, "storage down"));
            }

            wrote?.Invoke();
            return Task.CompletedTask;
        };
    }

    /// <summary>Moves the clock on in small steps until <paramref name="done"/>: the pause between attempts is the only wait.</summary>
    private static Task AdvanceUntilAsync(Microsoft.Extensions.Time.Testing.FakeTimeProvider clock, Func<bool> done, string what) =>
        Eventually.HoldsAsync(() =>
        {
            clock.Advance(TimeSpan.FromMilliseconds(20));
            return done();
        }, what);

    [Fact]
    public async Task A_passing_failure_is_tried_again_only_where_it_failed()
    {
        var clock = TestClock.New();
        int steady = 0, shaky = 0;
        var retries = new List<(int Failed, int Attempt)>();
        var run = FanOut.RunAsync("t", [("steady", Failing(0, BrokerErrorCode.StorageUnavailable, () => steady++)), ("shaky", Failing(2, BrokerErrorCode.StorageUnavailable, () => shaky++))],
            clock, (failed, attempt) => retries.Add((failed, attempt)));

        Assert.Single(retries);
        Assert.False(run.IsCompleted);
        await AdvanceUntilAsync(clock, () => run.IsCompleted, "the fan-out done");
        await run;

        Assert.Equal([(1, 1), (1, 2)], retries);
        Assert.Equal(1, steady);
        Assert.Equal(1, shaky);
    }

    [Fact]
    public async Task Another_error_fails_at_once_and_a_lasting_one_after_the_last_attempt_naming_what_was_not_stored()
    {
        var clock = TestClock.New();
        var error = await Assert.ThrowsAsync<BrokerException>(() => FanOut.RunAsync("t",
            [("ok", Failing(0, BrokerErrorCode.StorageUnavailable)), ("gone", Failing(1, BrokerErrorCode.QueueNotFound))], clock, (_, _) => { }));
        Assert.Equal(BrokerErrorCode.QueueNotFound, error.Code);
        Assert.Contains("stored in 1 of 2", error.Message, StringComparison.Ordinal);
        Assert.Contains("not in gone", error.Message, StringComparison.Ordinal);

        var attempts = 0;
        var lasting = FanOut.RunAsync("t", [("down", Failing(FanOut.Attempts, BrokerErrorCode.StorageUnavailable))], clock, (_, _) => attempts++);
        await AdvanceUntilAsync(clock, () => lasting.IsCompleted, "the last attempt");
        Assert.Equal(FanOut.Attempts - 1, attempts);
        var down = await Assert.ThrowsAsync<BrokerException>(() => lasting);
        Assert.Equal(BrokerErrorCode.StorageUnavailable, down.Code);
        Assert.Contains("stored in 0 of 1", down.Message, StringComparison.Ordinal);
    }
}
