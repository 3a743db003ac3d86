using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansBroker.Client;
using OrleansBroker.Queues;

namespace OrleansBroker.ClientSample;

/// <summary>Makes sure the queues exist before the producer and the consumer start (a consumer of a missing queue fails).</summary>
public sealed class OrdersQueueSetup(IBrokerAdministrationClient admin, ILogger<OrdersQueueSetup> logger) : IHostedService
{
    public const string Queue = "orders";

    public const string DeadLetterQueue = "orders.dlq";

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        await admin.CreateQueueIfMissingAsync(Queue, new QueueOptions
        {
            MaxDeliveryAttempts = 3,
            Retry = RetryPolicy.ExponentialBackoff(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5)),
        }, cancellationToken);
        // Made with the options the broker would give it with the first dead letter, so the worker can read it from the start.
        await admin.CreateQueueIfMissingAsync(DeadLetterQueue, QueueOptions.ForDeadLetterQueue(), cancellationToken);
        var info = await admin.GetQueueInfoAsync(Queue, cancellationToken);
        logger.LogInformation("{Queue}: {Depth} waiting; dead letters go to {DeadLetterQueue}", Queue, info.Depth, info.Options.ResolveDeadLetterQueue(Queue));
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
