using System.Globalization;
using OrleansBroker.Queues;

namespace OrleansBroker.Server.Queues;

/// <summary>A queue's options in one line, for logs and for the error that names options a queue exists with.</summary>
internal static class QueueOptionsText
{
    public static string Describe(QueueOptions options) =>
        $"lease {options.LeaseDuration}, max attempts {options.MaxDeliveryAttempts}, dead-letter queue '{options.DeadLetterQueue ?? "(default)"}', retry {Describe(options.Retry)}, " +
        $"ttl {options.DefaultTimeToLive?.ToString() ?? "none"}{(options.DeadLetterExpired ? " (dead-lettered)" : "")}, dedup window {options.DeduplicationWindow}, " +
        $"max length {options.MaxLength?.ToString(CultureInfo.InvariantCulture) ?? "none"}, max bytes {options.MaxBytes?.ToString(CultureInfo.InvariantCulture) ?? "none"}, overflow {options.Overflow}, partitions {options.Partitions}" +
        (options.Push is { } push ? $", push to {push.Url} ({push.Payload}, {push.Secrets.Count} secret(s))" : "");

    /// <summary>A retry policy as a user reads it: <c>immediate</c>, <c>fixed 5 s</c>, <c>exponential 1 s ×2 up to 300 s, jitter 0.1</c>.</summary>
    public static string Describe(RetryPolicy retry) => retry.Kind switch
    {
        RetryKind.Fixed => $"fixed {Seconds(retry.InitialDelay)}",
        RetryKind.Exponential => $"exponential {Seconds(retry.InitialDelay)} ×{retry.Multiplier.ToString("0.##", CultureInfo.InvariantCulture)} up to {Seconds(retry.MaxDelay)}" +
            (retry.Jitter > 0 ? $", jitter {retry.Jitter.ToString("0.##", CultureInfo.InvariantCulture)}" : ""),
        _ => "immediate",
    };

    private static string Seconds(TimeSpan time) => $"{time.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture)} s";
}
