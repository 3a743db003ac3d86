using System.Globalization;
using Microsoft.Data.Sqlite;

namespace OrleansBroker.Server.Storage;

/// <summary>Orleans reminder table on the broker's SQLite file, so reminders are as durable as the messages.</summary>
internal sealed class SqliteReminderTable(SqliteStore store) : IReminderTable
{
    public Task<ReminderTableData> ReadRows(GrainId grainId) =>
        store.ReadAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT grain_id, reminder_name, start_at, period_ticks, etag FROM reminders WHERE grain_id = $g";
            command.Parameters.AddWithValue("$g", grainId.ToString());
            return new ReminderTableData(ReadEntries(command));
        });

    public Task<ReminderTableData> ReadRows(uint begin, uint end) =>
        store.ReadAsync(connection =>
        {
            // Orleans asks for the hash range (begin, end], which wraps around when begin >= end.
            using var command = connection.CreateCommand();
            command.CommandText = begin < end
                ? "SELECT grain_id, reminder_name, start_at, period_ticks, etag FROM reminders WHERE grain_hash > $b AND grain_hash <= $e"
                : "SELECT grain_id, reminder_name, start_at, period_ticks, etag FROM reminders WHERE grain_hash > $b OR grain_hash <= $e";
            command.Parameters.AddWithValue("$b", (long)begin);
            command.Parameters.AddWithValue("$e", (long)end);
            return new ReminderTableData(ReadEntries(command));
        });

    public Task<ReminderEntry?> ReadRow(GrainId grainId, string reminderName) =>
        store.ReadAsync(connection =>
        {
            using var command = connection.CreateCommand();
            command.CommandText = "SELECT grain_id, reminder_name, start_at, period_ticks, etag FROM reminders WHERE grain_id = $g AND reminder_name = $n";
            command.Parameters.AddWithValue("$g", grainId.ToString());
            command.Parameters.AddWithValue("$n", reminderName);
            return ReadEntries(command).FirstOrDefault();
        });

    public Task<string?> UpsertRow(ReminderEntry entry) =>
        store.WriteAsync(writer =>
        {
            var command = writer.Command("""
                INSERT INTO reminders(grain_id, reminder_name, grain_hash, start_at, period_ticks, etag)
                VALUES ($g, $n, $h, $s, $p, 1)
                ON CONFLICT(grain_id, reminder_name) DO UPDATE SET
                    start_at = excluded.start_at, period_ticks = excluded.period_ticks, etag = etag + 1
                RETURNING etag
                """);
            command.Parameters.AddWithValue("$g", entry.GrainId.ToString());
            command.Parameters.AddWithValue("$n", entry.ReminderName);
            command.Parameters.AddWithValue("$h", (long)entry.GrainId.GetUniformHashCode());
            command.Parameters.AddWithValue("$s", entry.StartAt.ToUniversalTime().Ticks);
            command.Parameters.AddWithValue("$p", entry.Period.Ticks);
            return Convert.ToString(command.ExecuteScalar(), CultureInfo.InvariantCulture);
        });

    public Task<bool> RemoveRow(GrainId grainId, string reminderName, string eTag) =>
        store.WriteAsync(writer =>
        {
            var command = writer.Command("DELETE FROM reminders WHERE grain_id = $g AND reminder_name = $n AND etag = $e");
            command.Parameters.AddWithValue("$g", grainId.ToString());
            command.Parameters.AddWithValue("$n", reminderName);
            command.Parameters.AddWithValue("$e", long.Parse(eTag, CultureInfo.InvariantCulture));
            return command.ExecuteNonQuery() > 0;
        });

    public Task TestOnlyClearTable() =>
        store.WriteAsync(writer =>
        {
            var command = writer.Command("DELETE FROM reminders");
            return command.ExecuteNonQuery();
        });

    private static List<ReminderEntry> ReadEntries(SqliteCommand command)
    {
        var entries = new List<ReminderEntry>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            entries.Add(new ReminderEntry
            {
                GrainId = GrainId.Parse(reader.GetString(0)),
                ReminderName = reader.GetString(1),
                StartAt = new DateTime(reader.GetInt64(2), DateTimeKind.Utc),
                Period = TimeSpan.FromTicks(reader.GetInt64(3)),
                ETag = reader.GetInt64(4).ToString(CultureInfo.InvariantCulture),
            });
        }

        return entries;
    }
}
