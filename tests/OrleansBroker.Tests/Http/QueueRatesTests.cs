using Microsoft.Extensions.Time.Testing;
using OrleansBroker.Http.Api;
using OrleansBroker.Queues;
using Xunit;

namespace OrleansBroker.Tests.Http;

/// <summary>Rates from successive readings of a queue's counters, on a clock the test moves.</summary>
public sealed class QueueRatesTests
{
    [Fact]
    public void A_rate_is_the_counters_change_over_the_interval_since_a_reading_at_least_a_second_old()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var rates = new QueueRates(time);
        Assert.Null(rates.Observe(Info(published: 100, acked: 50)));

        time.Advance(TimeSpan.FromMilliseconds(500));
        Assert.Null(rates.Observe(Info(published: 150, acked: 60)));

        time.Advance(TimeSpan.FromMilliseconds(1500));
        var first = rates.Observe(Info(published: 300, acked: 250));
        Assert.Equal(new MessageRates(100, 0, 100, 0), first);

        time.Advance(TimeSpan.FromSeconds(4));
        Assert.Equal(new MessageRates(25, 0, 0, 0), rates.Observe(Info(published: 400, acked: 250)));

        // A reading older than five minutes is too old to say anything about now: it starts again.
        time.Advance(TimeSpan.FromMinutes(6));
        Assert.Null(rates.Observe(Info(published: 500, acked: 300)));
    }

    private static QueueInfo Info(long published, long acked) =>
        new("q", new QueueOptions(), 0, 0, 0, new QueueCounters(published, 0, 0, acked, 0, 0), DateTimeOffset.UnixEpoch);
}
