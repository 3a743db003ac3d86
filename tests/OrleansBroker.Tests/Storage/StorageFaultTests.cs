using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Server.Errors;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Storage;

/// <summary>
/// Real storage failures as a client sees them: on each backend that can fail, the error that reaches the client is a
/// <see cref="BrokerException"/> with a code and a correlation id and nothing inside it, so that a client without the
/// storage provider's assemblies can read it. (The in-process client here has those assemblies, so the test looks at
/// what arrived rather than waiting for a crash.) And the disk alarm refuses publishes and lets them in again by itself.
/// </summary>
public sealed class StorageFaultTests
{
    private static BrokerMessage Body(int bytes) => new(null, new byte[bytes]);

    private static void AssertReadableByEveryClient(BrokerException error, BrokerErrorCode code)
    {
        Assert.Equal(code, error.Code);
        Assert.Null(error.InnerException);
        Assert.True(ClientSafeErrors.IsReadableByEveryClient(error), error.ToString());
        Assert.False(string.IsNullOrEmpty(error.CorrelationId));
        Assert.Contains(error.CorrelationId!, error.Message, StringComparison.Ordinal);
    }

    /// <summary>Publishes 64 KiB batches until the broker refuses one; returns the error and how many messages were confirmed.</summary>
    private static async Task<(BrokerException Error, int Confirmed)> PublishUntilRefusedAsync(IBrokerClient broker, string queue, int maxBatches)
    {
        var confirmed = 0;
        for (var batch = 0; batch < maxBatches; batch++)
        {
            try
            {
                await broker.PublishBatchAsync(queue, [.. Enumerable.Range(0, 8).Select(_ => Body(8 * 1024))]);
                confirmed += 8;
            }
            catch (BrokerException error)
            {
                return (error, confirmed);
            }
        }

        throw new InvalidOperationException($"{maxBatches} batches of 64 KiB were all stored: the disk never filled.");
    }

    [Fact]
    public async Task A_full_disk_under_sqlite_reaches_the_client_as_StorageFull_with_nothing_of_sqlite_inside()
    {
        using var disk = Tmpfs.Mount(48);
        await using var cluster = await BrokerCluster.StartAsync(sqlite: options =>
        {
            options.DataDirectory = Path.Combine(disk.Directory, "data");
            options.DiskFreeLimit = "0";
        });
        await cluster.Admin.CreateQueueAsync("filling", new QueueOptions());

        var (error, confirmed) = await PublishUntilRefusedAsync(cluster.Broker, "filling", maxBatches: 2000);
        AssertReadableByEveryClient(error, BrokerErrorCode.StorageFull);
        Assert.True(confirmed > 0);

        // The refused write left the log whole: what was confirmed is there, and delivered.
        Assert.Equal(confirmed, (await cluster.Admin.GetQueueInfoAsync("filling")).Ready);
    }

    [Fact]
    public async Task Azure_storage_gone_reaches_the_client_as_StorageUnavailable_for_publishes_and_acks()
    {
        await using var azurite = new Azurite();
        await azurite.InitializeAsync();
        await using var cluster = await BrokerCluster.StartAsync(storage: azurite.ClusterStorage());
        await cluster.Admin.CreateQueueAsync("orders", new QueueOptions());
        await cluster.Broker.PublishAsync("orders", Body(100));
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        // Kept open: leaving the stream would give the delivery back.
        await using var deliveries = cluster.Broker.ReadAllAsync("orders", cancellationToken: timeout.Token).GetAsyncEnumerator(timeout.Token);
        Assert.True(await deliveries.MoveNextAsync());
        var held = deliveries.Current;

        // Azure Storage goes away under the running silo: every later write fails in the Azure SDK.
        await azurite.DisposeAsync();

        var publish = await Assert.ThrowsAsync<BrokerException>(() => cluster.Broker.PublishAsync("orders", Body(100)));
        AssertReadableByEveryClient(publish, BrokerErrorCode.StorageUnavailable);
        var ack = await Assert.ThrowsAsync<BrokerException>(() => cluster.Broker.CompleteAsync(held));
        AssertReadableByEveryClient(ack, BrokerErrorCode.StorageUnavailable);

        // Grains that must read storage to activate at all fail the same way: a queue and a topic not active yet.
        var queue = await Assert.ThrowsAsync<BrokerException>(() => cluster.Admin.GetQueueInfoAsync("not-active-yet"));
        AssertReadableByEveryClient(queue, BrokerErrorCode.StorageUnavailable);
        // Orleans loads a topic's state itself and wraps what fails there in an OrleansException, which clients can read.
        var topic = await Assert.ThrowsAsync<OrleansException>(() => cluster.Admin.GetTopicInfoAsync("not-active-yet"));
        Assert.True(ClientSafeErrors.IsReadableByEveryClient(topic), topic.ToString());
        AssertReadableByEveryClient(Assert.IsType<BrokerException>(topic.InnerException), BrokerErrorCode.StorageUnavailable);
    }

    [Fact]
    public async Task PostgreSQL_gone_reaches_the_client_as_StorageUnavailable_and_publishing_resumes_when_it_is_back_with_nothing_confirmed_lost()
    {
        await using var postgres = new PostgresServer();
        await postgres.InitializeAsync();
        var database = PostgresServer.UniqueDatabase();
        await using var cluster = await BrokerCluster.StartAsync(storage: silo => silo.UsePostgresBrokerStorage(postgres.ConnectionString(database)));
        await cluster.Admin.CreateQueueAsync("orders", new QueueOptions());
        for (var i = 0; i < 50; i++)
        {
            await cluster.Broker.PublishAsync("orders", Body(100));
        }

        // The server stops under the running silo: its connections close, and new ones are refused.
        await postgres.StopAsync();
        var publish = await Assert.ThrowsAsync<BrokerException>(() => cluster.Broker.PublishAsync("orders", Body(100)));
        AssertReadableByEveryClient(publish, BrokerErrorCode.StorageUnavailable);
        var again = await Assert.ThrowsAsync<BrokerException>(() => cluster.Broker.PublishAsync("orders", Body(100)));
        AssertReadableByEveryClient(again, BrokerErrorCode.StorageUnavailable);

        // Back again: the store opens a new connection for its next commit, and what was refused was not stored.
        await postgres.StartAsync();
        await Eventually.HoldsAsync(async () =>
        {
            try
            {
                await cluster.Broker.PublishAsync("orders", Body(100));
                return true;
            }
            catch (BrokerException error) when (error.Code == BrokerErrorCode.StorageUnavailable)
            {
                return false;
            }
        }, "a publish stored after PostgreSQL came back");
        Assert.Equal(51, (await cluster.Admin.GetQueueInfoAsync("orders")).Ready);
        Assert.Equal(51, (await cluster.Broker.ReceiveAndAckAsync("orders", 51)).Count);
    }

    [Fact]
    public async Task The_disk_alarm_refuses_publishes_while_space_is_short_and_clears_by_itself_when_it_returns()
    {
        using var disk = Tmpfs.Mount(64);
        await using var cluster = await BrokerCluster.StartAsync(sqlite: options =>
        {
            options.DataDirectory = Path.Combine(disk.Directory, "data");
            options.DiskFreeLimit = "8MiB";
            options.DiskCheckInterval = TimeSpan.FromMilliseconds(100);
        });
        await cluster.Admin.CreateQueueAsync("alarmed", new QueueOptions());
        await cluster.Broker.PublishAsync("alarmed", Body(100));

        // Another program fills the disk: the alarm raises without any commit of the broker's.
        var reserve = Path.Combine(disk.Directory, "data", "broker.db-reserve");
        Assert.True(File.Exists(reserve));
        var filler = disk.Fill();
        await Eventually.HoldsAsync(async () => (await cluster.Admin.GetQueueInfoAsync("alarmed")).PublishesRefused is not null, "the alarm raised");
        var refused = await Assert.ThrowsAsync<BrokerException>(() => cluster.Broker.PublishAsync("alarmed", Body(100)));
        Assert.Equal(BrokerErrorCode.StorageFull, refused.Code);
        Assert.Contains("Broker:DiskFreeLimit", refused.Message, StringComparison.Ordinal);
        Assert.Equal(1, (await cluster.Admin.GetQueueInfoAsync("alarmed")).Ready);

        // Deliveries and acks go on under the alarm, on the full disk: the ack's commit gets the reserve's space.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await foreach (var delivery in cluster.Broker.ReadAllAsync("alarmed", cancellationToken: timeout.Token))
        {
            await cluster.Broker.CompleteAsync(delivery);
            break;
        }

        Assert.Equal(0, (await cluster.Admin.GetQueueInfoAsync("alarmed")).Depth);
        Assert.False(File.Exists(reserve));

        // Space returns: publishes are taken again, with no restart, and the reserve is made again.
        File.Delete(filler);
        await Eventually.HoldsAsync(async () => (await cluster.Admin.GetQueueInfoAsync("alarmed")).PublishesRefused is null, "the alarm cleared");
        await cluster.Broker.PublishAsync("alarmed", Body(100));
        Assert.Equal(1, (await cluster.Admin.GetQueueInfoAsync("alarmed")).Ready);
        await Eventually.HoldsAsync(() => File.Exists(reserve), "the reserve made again");
    }
}
