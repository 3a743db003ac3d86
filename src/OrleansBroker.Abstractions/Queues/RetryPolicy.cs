using OrleansBroker.Errors;

namespace OrleansBroker.Queues;

/// <summary>How long a failed delivery waits before it is delivered again. Values are persisted and never change.</summary>
public enum RetryKind
{
    /// <summary>Redeliver at once (the default).</summary>
    Immediate = 0,

    /// <summary>Wait <see cref="RetryPolicy.InitialDelay"/> before every redelivery.</summary>
    Fixed = 1,

    /// <summary>Wait <see cref="RetryPolicy.InitialDelay"/>, then that times <see cref="RetryPolicy.Multiplier"/> per further attempt, up to <see cref="RetryPolicy.MaxDelay"/>.</summary>
    Exponential = 2,
}

/// <summary>
/// A queue's broker-side retry backoff: after a delivery fails (nack with requeue, handler exception,
/// lease expiry) the message waits this long before it is ready again. The wait is stored with the
/// message, so it holds across a deactivation or a silo restart. A nack that carries its own delay
/// (<see cref="Settlement.Delay"/>) overrides the policy for that message. The default is
/// <see cref="RetryKind.Immediate"/>.
/// </summary>
[GenerateSerializer, Immutable, Alias("ob.retry-policy")]
public sealed record RetryPolicy
{
    /// <summary>Longest wait before a redelivery, and the largest delay a nack may ask for: 7 days.</summary>
    public static readonly TimeSpan MaxRetryDelay = TimeSpan.FromDays(7);

    /// <summary>Largest <see cref="Multiplier"/>: 100.</summary>
    public const double MaxMultiplier = 100;

    /// <summary>Redeliver at once.</summary>
    public static RetryPolicy Immediate { get; } = new();

    /// <summary>Wait <paramref name="delay"/> before every redelivery.</summary>
    public static RetryPolicy FixedDelay(TimeSpan delay) => new() { Kind = RetryKind.Fixed, InitialDelay = delay };

    /// <summary>Wait <paramref name="initial"/>, doubling (or <paramref name="multiplier"/>) per attempt up to <paramref name="max"/>, with up to <paramref name="jitter"/> of random spread.</summary>
    public static RetryPolicy ExponentialBackoff(TimeSpan initial, TimeSpan max, double multiplier = 2, double jitter = 0) =>
        new() { Kind = RetryKind.Exponential, InitialDelay = initial, MaxDelay = max, Multiplier = multiplier, Jitter = jitter };

    /// <summary>Which backoff. Default <see cref="RetryKind.Immediate"/>.</summary>
    [Id(0)]
    public RetryKind Kind { get; init; } = RetryKind.Immediate;

    /// <summary>Wait before the first redelivery (and every one, with <see cref="RetryKind.Fixed"/>). Default 1 s; up to 7 days.</summary>
    [Id(1)]
    public TimeSpan InitialDelay { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Growth per further attempt with <see cref="RetryKind.Exponential"/>. Default 2; 1 to 100.</summary>
    [Id(2)]
    public double Multiplier { get; init; } = 2;

    /// <summary>Cap of an exponential wait. Default 5 minutes; up to 7 days.</summary>
    [Id(3)]
    public TimeSpan MaxDelay { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Random spread as a fraction of the wait: 0.2 makes a 10 s wait anything from 8 to 12 s. Default 0; 0 to 1.</summary>
    [Id(4)]
    public double Jitter { get; init; }

    /// <summary>
    /// The wait before delivery number <paramref name="failedAttempts"/> + 1, after <paramref name="failedAttempts"/>
    /// (at least 1) deliveries failed; <paramref name="random"/> is a number in [0, 1) for the jitter.
    /// </summary>
    public TimeSpan DelayAfter(int failedAttempts, double random)
    {
        var delay = Kind switch
        {
            RetryKind.Fixed => InitialDelay,
            RetryKind.Exponential => TimeSpan.FromTicks((long)Math.Min(MaxDelay.Ticks,
                InitialDelay.Ticks * Math.Pow(Multiplier, Math.Max(0, failedAttempts - 1)))),
            _ => TimeSpan.Zero,
        };

        if (Jitter > 0 && delay > TimeSpan.Zero)
        {
            delay = TimeSpan.FromTicks((long)(delay.Ticks * (1 + (Jitter * ((2 * random) - 1)))));
        }

        return delay;
    }

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) naming the first setting out of range.</summary>
    public void Validate()
    {
        if (!Enum.IsDefined(Kind))
        {
            Fail($"Retry kind {Kind} is unknown; use Immediate, Fixed or Exponential.");
        }

        if (InitialDelay < TimeSpan.Zero || InitialDelay > MaxRetryDelay || MaxDelay < TimeSpan.Zero || MaxDelay > MaxRetryDelay)
        {
            Fail($"Retry delays must be from 0 to {MaxRetryDelay.TotalDays} days; got initial {InitialDelay}, max {MaxDelay}.");
        }

        if (Kind == RetryKind.Exponential && MaxDelay < InitialDelay)
        {
            Fail($"Retry max delay {MaxDelay} is below the initial delay {InitialDelay}.");
        }

        if (double.IsNaN(Multiplier) || Multiplier < 1 || Multiplier > MaxMultiplier)
        {
            Fail($"Retry multiplier {Multiplier} is out of range 1..{MaxMultiplier}.");
        }

        if (double.IsNaN(Jitter) || Jitter < 0 || Jitter > 1)
        {
            Fail($"Retry jitter {Jitter} is out of range 0..1.");
        }
    }

    private static void Fail(string message) => throw new BrokerException(BrokerErrorCode.InvalidOptions, message);
}
