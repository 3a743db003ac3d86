using System.Globalization;
using Orleans.Serialization;
using Orleans.Storage;

namespace OrleansBroker.Server.Storage.Postgres;

/// <summary>
/// Orleans grain storage on the broker's PostgreSQL table, with the same contract as the SQLite one: records in the Orleans
/// binary format, a version number as ETag, a write at a version another writer moved on from is an
/// <see cref="InconsistentStateException"/> and changes nothing.
/// </summary>
internal sealed class PostgresGrainStorage(PostgresStore store, Serializer serializer) : IGrainStorage
{
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState) =>
        RecordStates.Load(grainState, serializer, await store.ReadAsync(grainId.ToString(), stateName).ConfigureAwait(false));

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = grainId.ToString();
        var expected = grainState.ETag;
        var data = serializer.SerializeToArray(grainState.State);
        var (write, next) = expected is null ? (RecordWrite.Insert(key, stateName, data), 1L)
            : RecordStates.ParseETag(expected) is { } version ? (RecordWrite.Update(key, stateName, version, data), version + 1)
            : (null, 0L);
        if (write is null || !await store.WriteAsync(write).ConfigureAwait(false))
        {
            throw await ConflictAsync(key, stateName, grainId, expected).ConfigureAwait(false);
        }

        grainState.ETag = next.ToString(CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = grainId.ToString();
        var expected = grainState.ETag;
        RecordWrite? write = expected is null ? RecordWrite.ClearAbsent(key, stateName)
            : RecordStates.ParseETag(expected) is { } version ? RecordWrite.Delete(key, stateName, version)
            : null;
        if (write is null || !await store.WriteAsync(write).ConfigureAwait(false))
        {
            throw await ConflictAsync(key, stateName, grainId, expected).ConfigureAwait(false);
        }

        RecordStates.Clear(grainState);
    }

    private async Task<InconsistentStateException> ConflictAsync(string key, string stateName, GrainId grainId, string? expected) =>
        RecordStates.Conflict(stateName, grainId, expected, await store.CurrentETagAsync(key, stateName).ConfigureAwait(false));
}
