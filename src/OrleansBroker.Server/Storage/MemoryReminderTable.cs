using System.Globalization;

namespace OrleansBroker.Server.Storage;

/// <summary>Reminder table in memory, for the memory backend (tests of broker logic). Lost with the silo.</summary>
internal sealed class MemoryReminderTable : IReminderTable
{
    private readonly Lock _lock = new();
    private readonly Dictionary<(GrainId, string), ReminderEntry> _rows = [];
    private long _etag;

    public Task<ReminderTableData> ReadRows(GrainId grainId)
    {
        lock (_lock)
        {
            return Task.FromResult(new ReminderTableData(_rows.Values.Where(r => r.GrainId == grainId).Select(Copy).ToList()));
        }
    }

    public Task<ReminderTableData> ReadRows(uint begin, uint end)
    {
        lock (_lock)
        {
            var rows = _rows.Values.Where(r =>
            {
                var hash = r.GrainId.GetUniformHashCode();
                return begin < end ? hash > begin && hash <= end : hash > begin || hash <= end;
            });
            return Task.FromResult(new ReminderTableData(rows.Select(Copy).ToList()));
        }
    }

    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName)
    {
        lock (_lock)
        {
            return Task.FromResult(_rows.TryGetValue((grainId, reminderName), out var row) ? Copy(row) : null);
        }
    }

    public Task<string?> UpsertRow(ReminderEntry entry)
    {
        lock (_lock)
        {
            var row = Copy(entry);
            row.ETag = (++_etag).ToString(CultureInfo.InvariantCulture);
            _rows[(entry.GrainId, entry.ReminderName)] = row;
            return Task.FromResult<string?>(row.ETag);
        }
    }

    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag)
    {
        lock (_lock)
        {
            var key = (grainId, reminderName);
            var removed = _rows.TryGetValue(key, out var row) && row.ETag == eTag && _rows.Remove(key);
            return Task.FromResult(removed);
        }
    }

    public Task TestOnlyClearTable()
    {
        lock (_lock)
        {
            _rows.Clear();
        }

        return Task.CompletedTask;
    }

    private static ReminderEntry Copy(ReminderEntry entry) => new()
    {
        GrainId = entry.GrainId,
        ReminderName = entry.ReminderName,
        StartAt = entry.StartAt,
        Period = entry.Period,
        ETag = entry.ETag,
    };
}
