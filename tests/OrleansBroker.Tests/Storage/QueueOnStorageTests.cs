using OrleansBroker.Client;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Storage;

/// <summary>A queue deeper than one storage record on each backend: deactivation, page-out under a consumer with credit.</summary>
public abstract class QueueOnStorageTests(StorageBackend backend)
{
    /// <summary>1 KiB messages that fill 16 segment records of the backends' 64 KiB and four times the 256 KiB a queue keeps resident.</summary>
    private const int Deep = 1000;

    protected StorageBackend Backend { get; } = backend;

    private IBrokerClient Broker => Backend.Cluster.Broker;

    private IBrokerAdministrationClient Admin => Backend.Cluster.Admin;

    [Fact]
    public async Task A_queue_deeper_than_one_storage_record_recovers_after_deactivation()
    {
        var queue = "deep-" + Guid.NewGuid().ToString("N")[..8];
        await Admin.CreateQueueAsync(queue);
        await PublishNumberedAsync(queue, Deep);

        await Backend.Cluster.Cluster.DeactivateAsync(Backend.Cluster.Grains.GetGrain<IQueueGrain>(queue));

        Assert.Equal(Deep, (await Admin.GetQueueInfoAsync(queue)).Ready);
        var received = await ReceiveAndAckAsync(queue, Deep);
        Assert.Equal(Enumerable.Range(0, Deep).Select(i => $"m{i}"), received);
        Assert.Equal(0, (await Admin.GetQueueInfoAsync(queue)).Depth);
    }

    [Fact]
    public async Task A_consumer_with_credit_for_the_whole_queue_gets_each_paged_out_message_once_and_in_order()
    {
        // Reading ahead of delivery pages bodies back in; a read that completes at once (SQLite) must not start a
        // second dispatch inside the first one, which leased one message twice and dropped another from the ready index.
        var queue = "credit-" + Guid.NewGuid().ToString("N")[..8];

        // Every message is leased at once and acked one by one, which on Azurite takes about as long as the default
        // 30 s lease: a long lease keeps the test about dispatch, not about leases ending.
        await Admin.CreateQueueAsync(queue, new QueueOptions { LeaseDuration = TimeSpan.FromMinutes(10) });
        await PublishNumberedAsync(queue, Deep);

        var received = await Broker.ReceiveAndAckAsync(queue, Deep, prefetch: 5000, timeout: Eventually.DefaultTimeout * 2);

        Assert.Equal(Enumerable.Range(0, Deep).Select(i => $"m{i}"), received.Select(d => d.MessageId));
        await Eventually.HoldsAsync(async () => (await Admin.GetQueueInfoAsync(queue)).Depth == 0, "every ack landed");
    }

    /// <summary>Publishes m0, m1, ... with 1 KiB bodies, 100 a call.</summary>
    protected async Task PublishNumberedAsync(string queue, int count)
    {
        for (var first = 0; first < count; first += 100)
        {
            await Broker.PublishBatchAsync(queue, Enumerable.Range(first, Math.Min(100, count - first)).Select(i => new BrokerMessage($"m{i}", new byte[1024])).ToList());
        }
    }

    protected async Task<List<string>> ReceiveAndAckAsync(string queue, int count) =>
        [.. (await Broker.ReceiveAndAckAsync(queue, count, prefetch: 200, timeout: Eventually.DefaultTimeout * 2)).Select(d => d.MessageId)];
}

/// <summary>What only a durable backend must also do: keep everything across a silo restart, reminders included.</summary>
public abstract class DurableQueueOnStorageTests(StorageBackend backend) : QueueOnStorageTests(backend)
{
    private IBrokerClient Broker => Backend.Cluster.Broker;

    private IBrokerAdministrationClient Admin => Backend.Cluster.Admin;

    [Fact]
    public async Task Nothing_confirmed_is_lost_across_a_silo_restart()
    {
        var queue = "restart-" + Guid.NewGuid().ToString("N")[..8];
        await Admin.CreateQueueAsync(queue);
        await PublishNumberedAsync(queue, 2000);

        Assert.Equal(500, (await ReceiveAndAckAsync(queue, 500)).Count);
        await Backend.Cluster.RestartSilosAsync();

        var info = await Admin.GetQueueInfoAsync(queue);
        Assert.Equal(1500, info.Depth);
        Assert.Equal(2000, info.Counters.Published);
        Assert.Equal(Enumerable.Range(500, 1500).Select(i => $"m{i}"), await ReceiveAndAckAsync(queue, 1500));
    }

    [Fact]
    public async Task A_queue_with_deliveries_out_is_woken_by_its_reminder_after_a_restart_and_dead_letters_what_ran_out_of_attempts()
    {
        // The consumer holds the last allowed attempt when the silo goes down, and nobody calls the
        // queue afterwards: only its reminder can bring it back to dead-letter the message.
        var queue = "wake-" + Guid.NewGuid().ToString("N")[..8];
        await Admin.CreateQueueAsync(queue, new QueueOptions { MaxDeliveryAttempts = 2, LeaseDuration = TimeSpan.FromMinutes(10) });
        await Broker.PublishAsync(queue, "poison", "poison");
        var grain = Backend.Cluster.Grains.GetGrain<IQueueGrain>(queue);
        var observer = new RecordingObserver();
        await grain.Subscribe("silent", 10, Backend.Cluster.Grains.CreateObjectReference<IConsumerObserver>(observer));

        var first = await observer.NextAsync();
        Assert.Equal([SettleStatus.Ok], await grain.Settle([new Settlement(first.Sequence, first.LeaseToken, SettleKind.Requeue)]));
        var second = await observer.NextAsync();
        Assert.Equal(2, second.Attempt);

        await Backend.Cluster.RestartSilosAsync();

        // The restart handed the lease over; the consumer never registers again, so the lease ends once its registration would
        // have expired (3 × ConsumerRenewInterval, 9 s here), and the message, out of attempts, is dead-lettered.
        var dlq = Backend.Cluster.Grains.GetGrain<IQueueGrain>(queue + ".dlq");
        await Eventually.HoldsAsync(async () => (await Admin.ListQueuesAsync()).Contains(queue + ".dlq") && (await dlq.GetInfo()).Ready == 1,
            "the message dead-lettered by the reactivated queue", TimeSpan.FromMinutes(3));
        var dead = Assert.Single(await Broker.ReceiveAndAckAsync(queue + ".dlq", 1));
        Assert.Equal("poison", dead.MessageId);
        Assert.Equal(queue, dead.Headers![OrleansBroker.Messages.BrokerHeaders.SourceQueue]);
        Assert.Equal("2", dead.Headers[OrleansBroker.Messages.BrokerHeaders.Attempts]);
    }
}

[Collection(SqliteBackend.Collection)]
public sealed class SqliteQueueTests(SqliteBackend backend) : DurableQueueOnStorageTests(backend);

[Collection(AzureBackend.Collection)]
public sealed class AzureQueueTests(AzureBackend backend) : DurableQueueOnStorageTests(backend);

[Collection(PostgresBackend.Collection)]
public sealed class PostgresQueueTests(PostgresBackend backend) : DurableQueueOnStorageTests(backend);

[Collection(MemoryBackend.Collection)]
public sealed class MemoryQueueTests(MemoryBackend backend) : QueueOnStorageTests(backend);
