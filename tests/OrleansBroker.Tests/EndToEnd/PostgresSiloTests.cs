using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.EndToEnd;

/// <summary>
/// silo-host on a real PostgreSQL for messages, reminders and clustering, with the CLI finding the gateway through the
/// membership table: the same kill -9 path as on SQLite and Azure, the tables made by the silo, and the start refused with one
/// line when the database cannot be used.
/// </summary>
public sealed class PostgresSiloTests : IAsyncLifetime
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);
    private readonly PostgresServer _postgres = new();

    public Task InitializeAsync() => _postgres.InitializeAsync();

    public Task DisposeAsync() => _postgres.DisposeAsync();

    [Fact]
    public async Task Messages_published_through_postgres_clustering_survive_kill_9_of_the_silo_and_the_schema_is_made_once()
    {
        using var data = new TestData();
        var siloPort = RealProcess.FreePort();
        var gatewayPort = RealProcess.FreePort();
        var clusterId = "cluster" + Guid.NewGuid().ToString("N")[..8];
        var database = PostgresServer.UniqueDatabase();
        var siloArgs = _postgres.SiloArgs(clusterId, database);
        var cliArgs = _postgres.CliArgs(clusterId, database);

        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort, siloArgs))
        {
            await silo.WaitUntilReadyAsync();
            Assert.Contains($"created PostgreSQL database '{database}'", silo.Output, StringComparison.Ordinal);
            Assert.Contains("created broker_records, orleansquery, orleansmembershiptable, orleansreminderstable (broker schema version 1)", silo.Output, StringComparison.Ordinal);
            Assert.Contains("clustering postgres", silo.Output, StringComparison.Ordinal);
            var publish = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, CommandTimeout, ["publish", "pg", "--count", "500", .. cliArgs]);
            Assert.True(publish.ExitCode == 0, publish.Err);
            Assert.StartsWith("published 500 messages to pg", publish.Out, StringComparison.Ordinal);
            silo.KillHard();
        }

        // Every message is in the database, none on the silo's disk.
        Assert.Empty(Directory.GetFiles(data.Directory, "*.db"));
        Assert.True((long)(await _postgres.ScalarAsync(database, "SELECT count(*) FROM broker_records"))! > 0);

        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort, siloArgs))
        {
            await silo.WaitUntilReadyAsync();
            Assert.Contains($"PostgreSQL database '{database}' has every table (broker schema version 1)", silo.Output, StringComparison.Ordinal);
            var consume = await RealProcess.RunAsync(RealProcess.CliDll, data.Directory, CommandTimeout, ["consume", "pg", "--count", "500", "--timeout", "60", .. cliArgs]);
            Assert.True(consume.ExitCode == 0, consume.Err);
            Assert.Equal(Enumerable.Range(1, 500).Select(i => $"message {i}"), consume.Out.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        }
    }

    [Fact]
    public async Task Postgres_clustering_without_postgres_storage_is_refused_at_start()
    {
        using var data = new TestData();
        var result = await RealProcess.RunAsync(RealProcess.SiloDll, data.Directory, CommandTimeout,
            "--data-dir", data.Directory, "--clustering", "postgres", "--postgres-connection-string", _postgres.ConnectionString(PostgresServer.UniqueDatabase()),
            "--silo-port", $"{RealProcess.FreePort()}", "--gateway-port", $"{RealProcess.FreePort()}", "--http-port", "0");
        Assert.Equal(2, result.ExitCode);
        Assert.Contains("Broker:Clustering=postgres needs storage every silo shares: set Broker:Storage=postgres (it is Sqlite)", result.Err, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("no connection string", "needs Broker:PostgresConnectionString")]
    [InlineData("a malformed connection string", "is not a PostgreSQL connection string")]
    [InlineData("a wrong password", "password authentication failed for user \"postgres\" (28P01)")]
    [InlineData("a port nothing listens on", "cannot connect: Connection refused")]
    public async Task A_database_that_cannot_be_used_stops_the_silo_at_start_with_one_line(string what, string says)
    {
        using var data = new TestData();
        var database = PostgresServer.UniqueDatabase();
        string? connectionString = what switch
        {
            "no connection string" => null,
            "a malformed connection string" => "Host=127.0.0.1;NoSuchKeyword=1",
            "a wrong password" => _postgres.WrongPasswordConnectionString(database),
            _ => $"Host=127.0.0.1;Port={RealProcess.FreePort()};Username=postgres;Database={database};Timeout=2",
        };
        string[] connection = connectionString is null ? [] : ["--postgres-connection-string", connectionString];

        var result = await RealProcess.RunAsync(RealProcess.SiloDll, data.Directory, CommandTimeout,
            ["--data-dir", data.Directory, "--storage", "postgres", .. connection, "--Broker:PostgresStartTimeout", "00:00:05",
             "--silo-port", $"{RealProcess.FreePort()}", "--gateway-port", $"{RealProcess.FreePort()}", "--http-port", "0", "--mqtt-port", "0", "--amqp-port", "0"]);
        Assert.Equal(2, result.ExitCode);
        var line = Assert.Single(result.Err.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith(connectionString is null ? "obroker-silo: PostgreSQL storage" : "obroker-silo: Broker:PostgresConnectionString", line, StringComparison.Ordinal);
        Assert.Contains(says, line, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-password", line, StringComparison.Ordinal);
    }
}
