using System.Globalization;
using Orleans.Serialization;
using Orleans.Storage;

namespace OrleansBroker.Server.Storage;

/// <summary>
/// What the broker's grain storages (SQLite, PostgreSQL) share: a record is a version number (the ETag) and its bytes in
/// the Orleans binary format; what a read, a clear and a version conflict leave in the grain's state.
/// </summary>
internal static class RecordStates
{
    /// <summary>The state as read: the record's contents and version, or a new state and no version when there is none.</summary>
    public static void Load<T>(IGrainState<T> grainState, Serializer serializer, (long ETag, byte[] Data)? record)
    {
        if (record is { } found)
        {
            grainState.State = serializer.Deserialize<T>(found.Data);
            grainState.ETag = found.ETag.ToString(CultureInfo.InvariantCulture);
            grainState.RecordExists = true;
        }
        else
        {
            Clear(grainState);
        }
    }

    /// <summary>The state of a record that is not there.</summary>
    public static void Clear<T>(IGrainState<T> grainState)
    {
        grainState.State = Activator.CreateInstance<T>();
        grainState.ETag = null;
        grainState.RecordExists = false;
    }

    /// <summary>The version an ETag names; null when it names none this storage wrote.</summary>
    public static long? ParseETag(string? etag) =>
        long.TryParse(etag, NumberStyles.None, CultureInfo.InvariantCulture, out var version) ? version : null;

    /// <summary>The error of a write or clear that found another version than it expected.</summary>
    public static InconsistentStateException Conflict(string stateName, GrainId grainId, string? expected, long? current)
    {
        var currentText = current?.ToString(CultureInfo.InvariantCulture);
        return new InconsistentStateException(
            $"Record '{stateName}' of {grainId} changed underneath: expected version {expected ?? "none"}, found {currentText ?? "none"}.",
            currentText ?? "none",
            expected ?? "none");
    }
}
