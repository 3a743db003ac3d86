using System.Text.Json;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansBroker.Client;
using OrleansBroker.Messages;

namespace OrleansBroker.ClientSample;

/// <summary>
/// The inventory worker: a push consumer whose handler reserves stock. A handler that returns completes the delivery; one
/// that throws abandons it, and after the queue's three attempts the broker moves it to the dead-letter queue, which the
/// worker reads too. When every order of the run is settled (or the deadline passes) it stops the application.
/// </summary>
public sealed class InventoryWorker(IBrokerClient broker, OrderRun run, IHostApplicationLifetime lifetime, ILogger<InventoryWorker> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        deadline.CancelAfter(run.Deadline);
        try
        {
            await using (await broker.ConsumeAsync(OrdersQueueSetup.Queue, ReserveAsync, new ConsumerOptions { Concurrency = 4, Prefetch = 20 }, ReportAsync, deadline.Token))
            {
                await ReadDeadLettersAsync(deadline.Token);
                await run.Settled.WaitAsync(deadline.Token);
                logger.LogInformation("Run {RunId} done: {Orders} orders reserved, 1 dead-lettered", run.RunId, run.Orders);
            }
        }
        catch (OperationCanceledException) when (!stoppingToken.IsCancellationRequested)
        {
            logger.LogError("Run {RunId} did not settle within {Deadline}", run.RunId, run.Deadline);
        }
        finally
        {
            lifetime.StopApplication();
        }
    }

    private Task ReserveAsync(Delivery delivery, CancellationToken cancellationToken)
    {
        using var order = JsonDocument.Parse(delivery.Body); // The bad order throws here, on each of its attempts.
        logger.LogInformation("Reserved {Quantity} x widget for {OrderId}", order.RootElement.TryGetProperty("Quantity", out var quantity) ? quantity.GetInt32() : 0, delivery.MessageId);
        run.Done(delivery.MessageId);
        return Task.CompletedTask;
    }

    private Task ReportAsync(ConsumerError error)
    {
        logger.LogWarning("{Source} failed for {OrderId} (attempt {Attempt}): {Reason}", error.Source, error.Delivery?.MessageId, error.Delivery?.Attempt, error.Exception.Message);
        return Task.CompletedTask;
    }

    /// <summary>Reads the dead-letter queue (pushed, no polling) until this run's bad order has come, completing each dead letter read.</summary>
    private async Task ReadDeadLettersAsync(CancellationToken cancellationToken)
    {
        await foreach (var dead in broker.ReadAllAsync(OrdersQueueSetup.DeadLetterQueue, cancellationToken: cancellationToken))
        {
            logger.LogInformation("Dead letter {OrderId} after {Attempts} attempts: {Reason}",
                dead.MessageId, dead.Headers?[BrokerHeaders.Attempts], dead.Headers?[BrokerHeaders.DeadLetterReason]);
            await broker.CompleteAsync(dead, cancellationToken);
            run.Done(dead.MessageId);
            if (dead.MessageId == run.BadOrderId)
            {
                return;
            }
        }
    }
}
