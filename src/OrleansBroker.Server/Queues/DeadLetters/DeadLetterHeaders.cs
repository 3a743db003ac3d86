using System.Globalization;
using OrleansBroker.Messages;

namespace OrleansBroker.Server.Queues.DeadLetters;

/// <summary>The broker headers every dead letter carries, whoever dead-letters it (a queue, or a topic whose transform failed).</summary>
internal static class DeadLetterHeaders
{
    /// <summary>A copy of <paramref name="headers"/> with reason, source queue, attempts and first enqueue time added.</summary>
    public static Dictionary<string, string> With(IReadOnlyDictionary<string, string>? headers, string reason, string source, int attempts, DateTimeOffset enqueuedAt)
    {
        var copy = headers is null ? new Dictionary<string, string>() : new Dictionary<string, string>(headers);
        copy[BrokerHeaders.DeadLetterReason] = reason;
        copy[BrokerHeaders.SourceQueue] = source;
        copy[BrokerHeaders.Attempts] = attempts.ToString(CultureInfo.InvariantCulture);
        copy[BrokerHeaders.OriginalEnqueuedAt] = enqueuedAt.UtcDateTime.ToString("O", CultureInfo.InvariantCulture);
        return copy;
    }
}
