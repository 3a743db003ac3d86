using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansBroker.Client;
using OrleansBroker.Messages;

namespace OrleansBroker.ClientSample;

/// <summary>The order service: publishes this run's orders, each completing once the broker has stored it.</summary>
public sealed class OrderService(IBrokerClient broker, OrderRun run, ILogger<OrderService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        for (var i = 1; i <= run.Orders; i++)
        {
            var id = run.OrderId(i);
            run.Expect(id);
            var order = JsonSerializer.SerializeToUtf8Bytes(new { Id = id, Sku = "widget", Quantity = i });
            // One customer's orders are handled one at a time, in order; other customers' in parallel.
            await broker.PublishAsync(OrdersQueueSetup.Queue, new BrokerMessage(id, order, "application/json") { OrderingKey = $"customer-{i % 2}" }, stoppingToken);
        }

        // A producer whose publish timed out sends order 3 again: the broker keeps the first and answers with its receipt.
        var again = await broker.PublishAsync(OrdersQueueSetup.Queue,
            new BrokerMessage(run.OrderId(3), JsonSerializer.SerializeToUtf8Bytes(new { Id = run.OrderId(3) }), "application/json"), stoppingToken);
        logger.LogInformation("{OrderId} published again: stored once, as sequence {Sequence}", run.OrderId(3), again.Sequence);

        run.Expect(run.BadOrderId);
        await broker.PublishAsync(OrdersQueueSetup.Queue, new BrokerMessage(run.BadOrderId, Encoding.UTF8.GetBytes("{not json"), "application/json"), stoppingToken);
        logger.LogInformation("Published {Count} orders of run {RunId}", run.Orders + 1, run.RunId);
    }
}
