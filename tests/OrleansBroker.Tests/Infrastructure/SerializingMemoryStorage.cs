using Microsoft.Extensions.DependencyInjection;
using Orleans.Serialization;
using Orleans.Storage;

// Shared with the benchmarks project (linked there): one copy of the in-memory storage both use.
namespace OrleansBroker.Tests.Infrastructure;

/// <summary>
/// Grain storage in a dictionary that still serializes every record with the broker's serializer: a
/// log benchmark then measures the log and the serializer, not a disk, and a test that drops a log and
/// loads it again sees only what was written, as after a crash.
/// </summary>
internal sealed class SerializingMemoryStorage(IGrainStorageSerializer serializer) : IGrainStorage
{
    private readonly Dictionary<(GrainId, string), (byte[] Data, int ETag)> _records = [];

    /// <summary>A store with the Orleans binary storage serializer, as the broker's stores use it.</summary>
    public static SerializingMemoryStorage New() =>
        new(new OrleansGrainStorageSerializer(new ServiceCollection().AddSerializer().BuildServiceProvider().GetRequiredService<Serializer>()));

    /// <summary>The names of the records <paramref name="grainId"/> has.</summary>
    public List<string> Names(GrainId grainId)
    {
        lock (_records)
        {
            return [.. _records.Keys.Where(k => k.Item1 == grainId).Select(k => k.Item2)];
        }
    }

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
