using System.Text;
using Microsoft.Data.Sqlite;
using OrleansBroker.Client;
using OrleansBroker.Messages;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Storage;

/// <summary>A database from before session 15 (records in the WITHOUT ROWID table <c>grain_state</c>) opens with everything in it.</summary>
public sealed class SqliteLayoutTests
{
    [Fact]
    public async Task A_database_in_the_old_layout_is_moved_to_the_new_one_on_start_and_nothing_in_it_is_lost()
    {
        using var data = new TestData();
        await using (var before = await BrokerCluster.StartAsync(sqlite: o => o.DataDirectory = data.Directory))
        {
            await before.Admin.CreateQueueAsync("legacy");
            await before.Broker.PublishBatchAsync("legacy", Enumerable.Range(0, 300).Select(i => new BrokerMessage($"m{i}", Encoding.UTF8.GetBytes($"body {i}"))).ToList());
            await before.Broker.ReceiveAndAckAsync("legacy", 100, prefetch: 100);
        }

        // Put the records back the way the previous version kept them.
        Execute(data.Directory, """
            CREATE TABLE grain_state(grain_id TEXT NOT NULL, state_name TEXT NOT NULL, etag INTEGER NOT NULL, data BLOB NOT NULL,
                PRIMARY KEY (grain_id, state_name)) WITHOUT ROWID;
            INSERT INTO grain_state SELECT grain_id, state_name, etag, data FROM records;
            DROP TABLE records;
            """);

        await using var after = await BrokerCluster.StartAsync(sqlite: o => o.DataDirectory = data.Directory);
        var info = await after.Admin.GetQueueInfoAsync("legacy");
        Assert.Equal(200, info.Depth);
        Assert.Equal(100, info.Counters.Acked);
        var rest = await after.Broker.ReceiveAndAckAsync("legacy", 200, prefetch: 100);
        Assert.Equal(Enumerable.Range(100, 200).Select(i => $"body {i}"), rest.Select(d => d.BodyText()));

        Assert.Equal(0L, Scalar(data.Directory, "SELECT COUNT(*) FROM sqlite_master WHERE name = 'grain_state'"));
        Assert.True(Scalar(data.Directory, "SELECT COUNT(*) FROM records") > 0);
    }

    private static void Execute(string directory, string sql)
    {
        using var connection = Open(directory);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    private static long Scalar(string directory, string sql)
    {
        using var connection = Open(directory);
        using var command = connection.CreateCommand();
        command.CommandText = sql;
        return (long)command.ExecuteScalar()!;
    }

    private static SqliteConnection Open(string directory)
    {
        var connection = new SqliteConnection($"Data Source={Path.Combine(directory, "broker.db")};Pooling=false");
        connection.Open();
        return connection;
    }
}
