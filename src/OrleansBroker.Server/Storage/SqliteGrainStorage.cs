using System.Globalization;
using Microsoft.Data.Sqlite;
using Orleans.Serialization;
using Orleans.Storage;
using OrleansBroker.Server.Log;

namespace OrleansBroker.Server.Storage;

/// <summary>
/// Orleans grain storage on the broker's SQLite file: one row per (grain, record name), with a
/// version number as ETag for optimistic concurrency, as every Orleans provider does. Records are in
/// the Orleans binary format (what <see cref="OrleansGrainStorageSerializer"/> writes), serialized
/// straight into one array of the final size: segment records are large, and growing a buffer for
/// each one cost more than the rest of a commit.
/// </summary>
internal sealed class SqliteGrainStorage(SqliteStore store, Serializer serializer) : IGrainStorage, IRecordBatchReader
{
    /// <summary>Grains per query of <see cref="ReadManyAsync{T}"/> (SQLite allows 32,766 parameters).</summary>
    public const int BatchSize = 500;

    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = grainId.ToString();
        var row = await store.ReadAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT etag, data FROM records WHERE grain_id = $g AND state_name = $s";
            AddKey(command, key, stateName);
            using var reader = command.ExecuteReader();
            return reader.Read() ? (ETag: reader.GetInt64(0), Data: (byte[])reader.GetValue(1)) : default((long ETag, byte[] Data)?);
        });

        RecordStates.Load(grainState, serializer, row);
    }

    public async Task<IReadOnlyList<StoredRecord<T>>> ReadManyAsync<T>(string stateName, IReadOnlyList<GrainId> grainIds)
        where T : class, new()
    {
        var keys = grainIds.Select(id => id.ToString()).ToList();
        var rows = new Dictionary<string, (long ETag, byte[] Data)>(StringComparer.Ordinal);
        foreach (var chunk in keys.Chunk(BatchSize))
        {
            await store.ReadAsync(connection =>
            {
                using var command = connection.CreateCommand();
                command.CommandText = "SELECT grain_id, etag, data FROM records WHERE state_name = $s AND grain_id IN ("
                    + string.Join(',', chunk.Select((_, i) => "$g" + i.ToString(CultureInfo.InvariantCulture))) + ")";
                command.Parameters.AddWithValue("$s", stateName);
                for (var i = 0; i < chunk.Length; i++)
                {
                    command.Parameters.AddWithValue("$g" + i.ToString(CultureInfo.InvariantCulture), chunk[i]);
                }

                using var reader = command.ExecuteReader();
                while (reader.Read())
                {
                    rows[reader.GetString(0)] = (reader.GetInt64(1), (byte[])reader.GetValue(2));
                }

                return rows.Count;
            });
        }

        return [.. keys.Select(key =>
        {
            var record = new StoredRecord<T>();
            RecordStates.Load(record, serializer, rows.TryGetValue(key, out var row) ? row : null);
            return record;
        })];
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = grainId.ToString();
        var data = serializer.SerializeToArray(grainState.State);
        var expected = grainState.ETag;
        var etag = await store.WriteAsync(writer =>
        {
            // One statement that both checks the version and writes: a write that finds another version changes nothing.
            if (RecordStates.ParseETag(expected) is { } version)
            {
                var update = writer.Command("UPDATE records SET etag = etag + 1, data = $d WHERE grain_id = $g AND state_name = $s AND etag = $e");
                AddKey(update, key, stateName);
                update.Parameters.AddWithValue("$e", version);
                update.Parameters.AddWithValue("$d", data);
                if (update.ExecuteNonQuery() == 1)
                {
                    return version + 1;
                }
            }
            else if (expected is null)
            {
                var insert = writer.Command("INSERT INTO records(grain_id, state_name, etag, data) VALUES ($g, $s, 1, $d) ON CONFLICT(grain_id, state_name) DO NOTHING");
                AddKey(insert, key, stateName);
                insert.Parameters.AddWithValue("$d", data);
                if (insert.ExecuteNonQuery() == 1)
                {
                    return 1L;
                }
            }

            throw RecordStates.Conflict(stateName, grainId, expected, CurrentETag(writer, key, stateName));
        });

        grainState.ETag = etag.ToString(CultureInfo.InvariantCulture);
        grainState.RecordExists = true;
    }

    public async Task ClearStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = grainId.ToString();
        var expected = grainState.ETag;
        await store.WriteAsync(writer =>
        {
            if (RecordStates.ParseETag(expected) is { } version)
            {
                var delete = writer.Command("DELETE FROM records WHERE grain_id = $g AND state_name = $s AND etag = $e");
                AddKey(delete, key, stateName);
                delete.Parameters.AddWithValue("$e", version);
                if (delete.ExecuteNonQuery() == 1)
                {
                    return true;
                }
            }

            // Clearing a record believed absent succeeds only while it is absent.
            var current = CurrentETag(writer, key, stateName);
            return expected is null && current is null ? true : throw RecordStates.Conflict(stateName, grainId, expected, current);
        });

        RecordStates.Clear(grainState);
    }

    private static void AddKey(SqliteCommand command, string key, string stateName)
    {
        command.Parameters.AddWithValue("$g", key);
        command.Parameters.AddWithValue("$s", stateName);
    }

    private static long? CurrentETag(SqliteWriter writer, string key, string stateName)
    {
        var command = writer.Command("SELECT etag FROM records WHERE grain_id = $g AND state_name = $s");
        AddKey(command, key, stateName);
        return command.ExecuteScalar() is long etag ? etag : null;
    }
}
