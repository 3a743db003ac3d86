using Orleans.Storage;

namespace OrleansBroker.Server.Log;

/// <summary>
/// The records of one log in Orleans <see cref="IGrainStorage"/>, by name: <c>meta</c>, segments <c>s{id}</c>,
/// their settle records <c>a{id}</c> and deduplication records <c>d{id}</c>, all under the queue's grain id.
/// </summary>
internal sealed class LogRecordStore(IGrainStorage storage, GrainId grainId)
{
    public const string MetaName = "meta";

    public GrainId GrainId => grainId;

    public static string SegmentName(long id) => "s" + id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string SettlesName(long id) => "a" + id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    public static string DedupName(long id) => "d" + id.ToString(System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Reads a record; <see cref="StoredRecord{T}.RecordExists"/> says whether there was one.</summary>
    public async Task<StoredRecord<T>> ReadAsync<T>(string name)
        where T : class, new()
    {
        var record = new StoredRecord<T>();
        await storage.ReadStateAsync(name, grainId, record);
        return record;
    }

    /// <summary>Reads into a record the caller holds on to (its ETag is kept for the next write).</summary>
    public Task ReadIntoAsync<T>(string name, StoredRecord<T> record)
        where T : class, new() => storage.ReadStateAsync(name, grainId, record);

    /// <summary>Writes a record, conditional on its ETag: a record changed by another writer fails the write.</summary>
    public Task WriteAsync<T>(string name, StoredRecord<T> record)
        where T : class, new() => storage.WriteStateAsync(name, grainId, record);

    /// <summary>
    /// Writes <paramref name="copy"/> under <paramref name="live"/>'s ETag, then keeps the new ETag in <paramref name="live"/>:
    /// for a record whose state other calls go on changing while a provider serializes it (possibly off the grain's turn).
    /// </summary>
    public async Task WriteCopyAsync<T>(string name, StoredRecord<T> live, T copy)
        where T : class, new()
    {
        var record = new StoredRecord<T> { State = copy, ETag = live.ETag, RecordExists = live.RecordExists };
        await storage.WriteStateAsync(name, grainId, record);
        live.ETag = record.ETag;
        live.RecordExists = true;
    }

    public Task ClearAsync<T>(string name, StoredRecord<T> record)
        where T : class, new() => storage.ClearStateAsync(name, grainId, record);

    /// <summary>Deletes a record that may or may not have been written (by a commit that failed).</summary>
    public async Task ClearIfPresentAsync<T>(string name)
        where T : class, new()
    {
        var record = await ReadAsync<T>(name);
        if (record.RecordExists)
        {
            await ClearAsync(name, record);
        }
    }

    /// <summary>
    /// Deletes a live segment, then its settle record: cut short in between (a crash, storage failing), what is left is a
    /// settle record nothing reads, never a segment without its settles (whose acked messages would all come back).
    /// </summary>
    public async Task DeleteSegmentAsync(Segment segment)
    {
        await ClearAsync(SegmentName(segment.Id), segment.Record);
        if (segment.State.RecordExists)
        {
            await ClearAsync(SettlesName(segment.Id), segment.State);
        }
    }
}
