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

    public static List<StoredMessage> Messages(long firstSequence, int count, int bodyBytes)
    {
        var messages = new List<StoredMessage>(count);
        for (var i = 0; i < count; i++)
        {
            var body = new byte[bodyBytes];
            Random.Shared.NextBytes(body);
            var sequence = firstSequence + i;
            messages.Add(new StoredMessage(sequence, Guid.CreateVersion7().ToString("N"), body, "application/octet-stream", null, null, DateTimeOffset.UtcNow));
        }

        return messages;
    }
}

/// <summary>
/// Grain storage in a dictionary that still serializes every record with the broker's serializer: a
/// log benchmark then measures the log and the serializer, not a disk.
/// </summary>
internal sealed class SerializingMemoryStorage(IGrainStorageSerializer serializer) : IGrainStorage
{
    private readonly Dictionary<(GrainId, string), (byte[] Data, int ETag)> _records = [];

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        lock (_records)
        {
            if (_records.TryGetValue((grainId, stateName), out var found))
            {
                grainState.State = serializer.Deserialize<T>(new BinaryData(found.Data));
                grainState.ETag = found.ETag.ToString(System.Globalization.CultureInfo.InvariantCulture);
                grainState.RecordExists = true;
            }
            else
            {
                grainState.State = Activator.CreateInstance<T>();
                grainState.ETag = null;
                grainState.RecordExists = false;
            }
        }

        return Task.CompletedTask;
    }

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var data = serializer.Serialize(grainState.State).ToArray();
        lock (_records)
        {
            var etag = _records.TryGetValue((grainId, stateName), out var found) ? found.ETag + 1 : 1;
            _records[(grainId, stateName)] = (data, etag);
            grainState.ETag = etag.ToString(System.Globalization.CultureInfo.InvariantCulture);
            grainState.RecordExists = true;
        }

        return Task.CompletedTask;
    }

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        lock (_records)
        {
            _records.Remove((grainId, stateName));
        }

        grainState.ETag = null;
        grainState.RecordExists = false;
        return Task.CompletedTask;
    }
}
