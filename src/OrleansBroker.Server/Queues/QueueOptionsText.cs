using System.Globalization;
using OrleansBroker.Queues;

namespace OrleansBroker.Server.Queues;

/// <summary>A queue's options in one line, for logs and for the error that names options a queue exists with.</summary>
internal static class QueueOptionsText
{
    public static string Describe(QueueOptions options) =>
        $"lease {options.LeaseDuration}, max attempts {options.MaxDeliveryAttempts}, dead-letter queue '{options.DeadLetterQueue ?? "(default)"}', retry {options.Retry}, " +
        $"ttl {options.DefaultTimeToLive?.ToString() ?? "none"}{(options.DeadLetterExpired ? " (dead-lettered)" : "")}, dedup window {options.DeduplicationWindow}, " +
        $"max length {options.MaxLength?.ToString(CultureInfo.InvariantCulture) ?? "none"}, max bytes {options.MaxBytes?.ToString(CultureInfo.InvariantCulture) ?? "none"}, overflow {options.Overflow}, partitions {options.Partitions}";
}
