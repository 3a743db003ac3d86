using Microsoft.Extensions.Logging;
using Orleans.Storage;
using OrleansBroker.Server.Errors;

namespace OrleansBroker.Server.Storage;

/// <summary>
/// The broker's grain storage as Orleans' <c>[PersistentState]</c> sees it (topics, the queue registry): a storage
/// failure (a runtime <see cref="IOException"/> included) becomes a <see cref="OrleansBroker.Errors.BrokerException"/>
/// (<c>StorageUnavailable</c>, or <c>StorageFull</c>) logged under a correlation id. Orleans loads
/// such state before the grain's own code runs and sends a failure to the caller as it is, so without this a client
/// would receive the provider's exception (SQLite's, Azure's), which it may be unable to read.
/// </summary>
internal sealed partial class ClientSafeGrainStorage(IGrainStorage inner, ILogger<ClientSafeGrainStorage> logger) : IGrainStorage
{
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
