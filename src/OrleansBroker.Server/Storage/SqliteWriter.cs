using Microsoft.Data.Sqlite;

namespace OrleansBroker.Server.Storage;

/// <summary>
/// The store's one writer connection as write operations see it. Commands are prepared once per SQL
/// text and reused: at a commit per publish, parsing the same few statements again was a large part
/// of a write. Used only on the store's writer thread.
/// </summary>
internal sealed class SqliteWriter(SqliteConnection connection) : IDisposable
{
    private readonly Dictionary<string, SqliteCommand> _commands = new(StringComparer.Ordinal);

    /// <summary>The prepared command for <paramref name="sql"/>, with its parameters cleared. Do not dispose it.</summary>
    public SqliteCommand Command(string sql)
    {
        if (!_commands.TryGetValue(sql, out var command))
        {
            command = connection.CreateCommand();
            command.CommandText = sql;
            _commands.Add(sql, command);
        }

        command.Parameters.Clear();
        return command;
    }

    public void Execute(string sql) => Command(sql).ExecuteNonQuery();

    public void Dispose()
    {
        foreach (var command in _commands.Values)
        {
            command.Dispose();
        }

        _commands.Clear();
    }
}
