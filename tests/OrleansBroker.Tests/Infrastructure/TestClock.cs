using Microsoft.Extensions.Time.Testing;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>The clock the unit tests of the queue's parts move by hand.</summary>
public static class TestClock
{
    public static readonly DateTimeOffset Start = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static FakeTimeProvider New() => new(Start);
}
