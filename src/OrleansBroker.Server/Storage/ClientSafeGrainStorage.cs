using Microsoft.Extensions.Logging;
using Orleans.Storage;
using OrleansBroker.Server.Errors;
using OrleansBroker.Server.Log;

namespace OrleansBroker.Server.Storage;

/// <summary>
/// The broker's grain storage as Orleans' <c>[PersistentState]</c> sees it (topics, the queue registry): a storage
/// failure (a runtime <see cref="IOException"/> included) becomes a <see cref="OrleansBroker.Errors.BrokerException"/>
/// (<c>StorageUnavailable</c>, or <c>StorageFull</c>) logged under a correlation id. Orleans loads
/// such state before the grain's own code runs and sends a failure to the caller as it is, so without this a client
/// would receive the provider's exception (SQLite's, Azure's), which it may be unable to read.
/// </summary>
internal sealed partial class ClientSafeGrainStorage(IGrainStorage inner, ILogger<ClientSafeGrainStorage> logger) : IGrainStorage, IRecordBatchReader
{
    /// <summary>Reads at once where the storage reads many records one by one.</summary>
    public const int ReadsAtOnce = 32;

    /// <summary>In one query where the storage can (SQLite), else one read per grain, <see cref="ReadsAtOnce"/> at a time; a failure as for one read.</summary>
    public async Task<IReadOnlyList<StoredRecord<T>>> ReadManyAsync<T>(string stateName, IReadOnlyList<GrainId> grainIds)
        where T : class, new()
    {
        if (grainIds.Count == 0)
        {
            return [];
        }

        if (inner is IRecordBatchReader batch)
        {
            var read = batch.ReadManyAsync<T>(stateName, grainIds);
            await GuardAsync(read, "read", stateName, grainIds[0]);
            return await read;
        }

        var records = grainIds.Select(_ => new StoredRecord<T>()).ToList();
        foreach (var chunk in Enumerable.Range(0, grainIds.Count).Chunk(ReadsAtOnce))
        {
            await Task.WhenAll(chunk.Select(i => ReadStateAsync(stateName, grainIds[i], records[i])));
        }

        return records;
    }

    public Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        GuardAsync(inner.ReadStateAsync(stateName, grainId, grainState), "read", stateName, grainId);

    public Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        GuardAsync(inner.WriteStateAsync(stateName, grainId, grainState), "write", stateName, grainId);

    public Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        GuardAsync(inner.ClearStateAsync(stateName, grainId, grainState), "clear", stateName, grainId);

    private async Task GuardAsync(Task operation, string verb, string stateName, GrainId grainId)
    {
        try
        {
            await operation.ConfigureAwait(false);
        }
        catch (Exception exception) when (!ClientSafeErrors.IsReadableByEveryClient(exception) || ClientSafeErrors.IsStorageFailure(exception))
        {
            var correlationId = ClientSafeErrors.NewCorrelationId();
            LogFailed(exception, verb, stateName, grainId, correlationId);
            throw ClientSafeErrors.FromStorage(exception, $"{verb} the {stateName} of {grainId}", correlationId);
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Storage {Verb} of {StateName} for {GrainId} failed [correlation id {CorrelationId}]")]
    private partial void LogFailed(Exception exception, string verb, string stateName, GrainId grainId, string correlationId);
}
