using System.Globalization;
using Orleans.Serialization;
using Orleans.Storage;

namespace OrleansBroker.Server.Storage;

/// <summary>
/// Orleans grain storage on the broker's SQLite file: one row per (grain, record name), with a
/// version number as ETag for optimistic concurrency, as every Orleans provider does. Records are in
/// the Orleans binary format (what <see cref="OrleansGrainStorageSerializer"/> writes), serialized
/// straight into one array of the final size: segment records are large, and growing a buffer for
/// each one cost more than the rest of a commit.
/// </summary>
internal sealed class SqliteGrainStorage(SqliteStore store, Serializer serializer) : IGrainStorage
{
    public async Task ReadStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = grainId.ToString();
        var row = await store.ReadAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT etag, data FROM grain_state WHERE grain_id = $g AND state_name = $s";
            command.Parameters.AddWithValue("$g", key);
            command.Parameters.AddWithValue("$s", stateName);
            using var reader = command.ExecuteReader();
            return reader.Read() ? (ETag: reader.GetInt64(0), Data: (byte[])reader.GetValue(1)) : default((long ETag, byte[] Data)?);
        });

        if (row is { } found)
        {
            grainState.State = serializer.Deserialize<T>(found.Data);
            grainState.ETag = found.ETag.ToString(CultureInfo.InvariantCulture);
            grainState.RecordExists = true;
        }
        else
        {
            grainState.State = Activator.CreateInstance<T>();
            grainState.ETag = null;
            grainState.RecordExists = false;
        }
    }

    public async Task WriteStateAsync<T>(string stateName, GrainId grainId, IGrainState<T> grainState)
    {
        var key = grainId.ToString();
        var data = serializer.SerializeToArray(grainState.State);
        var expected = grainState.ETag;
        var etag = await store.WriteAsync(writer =>
        {
            var current = CurrentETag(writer, key, stateName);
            CheckETag(stateName, grainId, expected, current);
            var next = (current ?? 0) + 1;
            var command = writer.Command("""
                INSERT INTO grain_state(grain_id, state_name, etag, data) VALUES ($g, $s, $e, $d)
                ON CONFLICT(grain_id, state_name) DO UPDATE SET etag = excluded.etag, data = excluded.data
                """);
            command.Parameters.AddWithValue("$g", key);
            command.Parameters.AddWithValue("$s", stateName);
            command.Parameters.AddWithValue("$e", next);
            command.Parameters.AddWithValue("$d", data);
            command.ExecuteNonQuery();
            return next;
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
            var current = CurrentETag(writer, key, stateName);
            CheckETag(stateName, grainId, expected, current);
            var command = writer.Command("DELETE FROM grain_state WHERE grain_id = $g AND state_name = $s");
            command.Parameters.AddWithValue("$g", key);
            command.Parameters.AddWithValue("$s", stateName);
            command.ExecuteNonQuery();
            return true;
        });

        grainState.State = Activator.CreateInstance<T>();
        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    private static long? CurrentETag(SqliteWriter writer, string key, string stateName)
    {
        var command = writer.Command("SELECT etag FROM grain_state WHERE grain_id = $g AND state_name = $s");
        command.Parameters.AddWithValue("$g", key);
        command.Parameters.AddWithValue("$s", stateName);
        return command.ExecuteScalar() is long etag ? etag : null;
    }

    private static void CheckETag(string stateName, GrainId grainId, string? expected, long? current)
    {
        var currentText = current?.ToString(CultureInfo.InvariantCulture);
        if (!string.Equals(expected, currentText, StringComparison.Ordinal))
        {
            throw new InconsistentStateException(
                $"Record '{stateName}' of {grainId} changed underneath: expected version {expected ?? "none"}, found {currentText ?? "none"}.",
                currentText ?? "none",
                expected ?? "none");
        }
    }
}
