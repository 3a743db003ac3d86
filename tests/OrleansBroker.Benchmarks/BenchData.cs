using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Storage;
using OrleansBroker.Server.Log;

namespace OrleansBroker.Benchmarks;

/// <summary>Messages and serializers as the broker has them: 1 KiB bodies of their own, the Orleans binary storage serializer.</summary>
internal static class BenchData
{
    private static readonly Lazy<ServiceProvider> Services = new(() => new ServiceCollection().AddSerializer().BuildServiceProvider());

    public static Serializer Serializer => Services.Value.GetRequiredService<Serializer>();

    public static IGrainStorageSerializer StorageSerializer => new OrleansGrainStorageSerializer(Serializer);

    /// <summary>
    /// <paramref name="count"/> messages; with <paramref name="traced"/> they share one headers dictionary holding a W3C
    /// trace context, as the messages of one traced publish call do.
    /// </summary>
    public static List<StoredMessage> Messages(long firstSequence, int count, int bodyBytes, bool traced = false)
    {
        IReadOnlyDictionary<string, string>? headers = traced
            ? new Dictionary<string, string>(StringComparer.Ordinal) { ["traceparent"] = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01" }
            : null;
        var messages = new List<StoredMessage>(count);
        for (var i = 0; i < count; i++)
        {
            var body = new byte[bodyBytes];
            Random.Shared.NextBytes(body);
            var sequence = firstSequence + i;
            messages.Add(new StoredMessage(sequence, Guid.CreateVersion7().ToString("N"), body, "application/octet-stream", headers, null, DateTimeOffset.UtcNow));
        }

        return messages;
    }
}
