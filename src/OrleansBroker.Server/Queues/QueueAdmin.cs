using Microsoft.Extensions.Logging;
using OrleansBroker.Errors;
using OrleansBroker.Queues;

namespace OrleansBroker.Server.Queues;

/// <summary>
/// Creating, describing, purging and deleting a queue. On partition 0 of a partitioned queue each of these is done for every
/// partition, in an order that a failure part-way is mended by doing it again: a partition that exists always has its queue,
/// a listed queue always exists, and a delete takes the other partitions before partition 0.
/// </summary>
/// <remarks><c>snapshot</c>: this partition's figures and where it runs, as <see cref="IQueuePartitionGrain.GetPartitionInfo"/> gives them.</remarks>
internal sealed partial class QueueAdmin(QueueCore core, IQueueRegistryGrain registry, Func<PartitionSnapshot> snapshot, ILogger logger)
{
    private QueueState State => core.State;

    /// <summary>A user's create: of a queue by its own name, not of a partition or of a topic subscription's queue.</summary>
    public Task<QueueInfo> CreateByUserAsync(QueueOptions options)
    {
        var name = State.Name;
        QueueName.Validate(name);
        core.Partitions.RefuseAdmin("create");
        if (QueueName.IsSubscriptionQueue(name) && !core.Log.Meta.Created && !name.EndsWith(QueueName.DeadLetterSuffix, StringComparison.Ordinal))
        {
            throw new BrokerException(BrokerErrorCode.QueueNotFound,
                $"Queue '{name}' is a topic subscription's queue: subscribe to topic '{name[..name.IndexOf('/', StringComparison.Ordinal)]}' to create it.");
        }

        return CreateAsync(options);
    }

    /// <summary>Partition 0 creates this partition of its queue.</summary>
    public Task CreatePartitionAsync(QueueOptions options)
    {
        if (State.Partition == 0)
        {
            throw new BrokerException(BrokerErrorCode.InvalidName, $"'{State.Name}' is not a partition name.");
        }

        return CreateAsync(options);
    }

    /// <summary>Creates the queue (every partition, when this is partition 0), or confirms it exists with these options.</summary>
    public async Task<QueueInfo> CreateAsync(QueueOptions options)
    {
        QueueName.Validate(State.Name);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate(State.Queue);
        var log = core.Log;
        if (log.Meta.Created)
        {
            if (options != State.Options)
            {
                throw new BrokerException(BrokerErrorCode.QueueExistsWithOtherOptions,
                    $"Queue '{State.Name}' exists with other options ({QueueOptionsText.Describe(State.Options)}); delete it first or create it with the same options.");
            }
        }
        else
        {
            var now = State.Time.GetUtcNow();
            log.UpdateMeta(meta =>
            {
                meta.Created = true;
                meta.Options = options;
                meta.CreatedAt = now;

                // Nothing of a growth of a queue this name had before it was deleted.
                meta.GrownFrom = -1;
                meta.HeldForGrowth = false;
                meta.GrowingTo = 0;
            });
            await log.CommitAsync();
            LogCreated(logger, State.Name, QueueOptionsText.Describe(options));
        }

        if (State.Partition > 0)
        {
            return snapshot().Info;
        }

        if (core.Partitions.Leads)
        {
            await Task.WhenAll(core.Partitions.Others<IQueuePartitionGrain>().Select(p => p.CreatePartition(options)));
        }

        await registry.Add(State.Name);
        return await InfoAsync();
    }

    /// <summary>
    /// Replaces the options of a created queue in place (only its push endpoint changes this way), then, on partition 0,
    /// those of every other partition (<paramref name="changeOthers"/>).
    /// </summary>
    public async Task ChangeOptionsAsync(QueueOptions options, Func<IEnumerable<IQueuePartitionGrain>, Task> changeOthers)
    {
        options.Validate(State.Queue);
        if (options != State.Options)
        {
            core.Log.UpdateMeta(meta => meta.Options = options);
            await core.Log.CommitAsync();
            LogChanged(logger, State.Name, QueueOptionsText.Describe(options));
        }

        if (core.Partitions.Leads)
        {
            await changeOthers(core.Partitions.Others<IQueuePartitionGrain>());
        }
    }

    /// <summary>Creates this partition as one added by growth (see <see cref="Partitions.PartitionGrowth"/>).</summary>
    public async Task CreateGrownAsync(QueueOptions options, int source)
    {
        if (await core.Growth.CreateAsync(options, source))
        {
            LogCreated(logger, State.Name, $"{QueueOptionsText.Describe(options)}; grown from partition {source}, keyed messages held until it has settled theirs");
        }
    }

    /// <summary>The queue's figures: summed over its partitions on partition 0, this partition's own elsewhere.</summary>
    public async Task<QueueInfo> InfoAsync() => core.Partitions.Leads ? await core.Partitions.InfoAsync(snapshot()) : snapshot().Info;

    public async Task<long> PurgeAsync()
    {
        var purged = await core.PurgeAsync();
        if (core.Partitions.Leads)
        {
            purged += (await Task.WhenAll(core.Partitions.Others<IQueueGrain>().Select(p => p.Purge()))).Sum();
        }

        return purged;
    }

    /// <summary>Deletes this partition's log (and, on partition 0, every other partition first, then the queue's listing).</summary>
    public async Task DeleteAsync()
    {
        if (core.Partitions.Leads)
        {
            await Task.WhenAll(core.Partitions.Others<IQueuePartitionGrain>().Select(p => p.DeletePartition()));
        }

        await core.DeleteAsync();
        if (State.Partition == 0)
        {
            await registry.Remove(State.Name);
        }

        LogDeleted(logger, State.Name);
    }

    /// <summary>Throws <see cref="BrokerErrorCode.QueueNotFound"/> unless the queue was created.</summary>
    public void EnsureCreated()
    {
        if (!core.Log.Meta.Created)
        {
            QueueName.Validate(State.Name);
            throw new BrokerException(BrokerErrorCode.QueueNotFound, $"Queue '{State.Name}' does not exist; create it first.");
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue} created: {Options}")]
    private static partial void LogCreated(ILogger logger, string queue, string options);

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue} options changed: {Options}")]
    private static partial void LogChanged(ILogger logger, string queue, string options);

    [LoggerMessage(Level = LogLevel.Information, Message = "Queue {Queue} deleted")]
    private static partial void LogDeleted(ILogger logger, string queue);
}
