using OrleansBroker.Server.Log;

namespace OrleansBroker.Server.Storage;

/// <summary>
/// Grain storage that reads one record of many grains in one query (the figures of idle queues for a list), where reading
/// them one by one would cost a round trip and a statement each.
/// </summary>
internal interface IRecordBatchReader
{
    /// <summary>The record <paramref name="stateName"/> of each grain of <paramref name="grainIds"/>, in order (<c>RecordExists</c> false where there is none).</summary>
    Task<IReadOnlyList<StoredRecord<T>>> ReadManyAsync<T>(string stateName, IReadOnlyList<GrainId> grainIds)
        where T : class, new();
}
