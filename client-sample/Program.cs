using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;
using OrleansBroker.Client;
using OrleansBroker.Client.Hosting;
using OrleansBroker.Messages;
using OrleansBroker.Queues;

// Order events on the client only: an order service publishes to "orders" (each customer's orders in
// order, a retried publish stored once), an inventory worker consumes with acks, and one malformed
// order ends in "orders.dlq" after 3 attempts with backoff.
// Start a broker first: dotnet run --project silo-host
var builder = Host.CreateApplicationBuilder(args);
builder.UseOrleansClient(client => client
    .UseStaticClustering(new IPEndPoint(IPAddress.Loopback, 30000))
    .Configure<ClusterOptions>(o => o.ClusterId = o.ServiceId = "obroker")
    .AddBrokerClient());
using var host = builder.Build();
await host.StartAsync();
var broker = host.Services.GetRequiredService<IBrokerClient>();
var admin = host.Services.GetRequiredService<IBrokerAdministrationClient>();

await admin.CreateQueueAsync("orders", new QueueOptions
{
    MaxDeliveryAttempts = 3,
    Retry = RetryPolicy.ExponentialBackoff(TimeSpan.FromMilliseconds(200), TimeSpan.FromSeconds(5)),
});
var info = await admin.GetQueueInfoAsync("orders");
Console.WriteLine($"orders: {info.Depth} waiting, dead letters go to {info.Options.ResolveDeadLetterQueue("orders")}");

// Order service: five orders and one that no worker can parse.
for (var i = 1; i <= 5; i++)
{
    var order = JsonSerializer.SerializeToUtf8Bytes(new { Id = $"order-{i}", Sku = "widget", Quantity = i });
    // One customer's orders are handled one at a time, in order; other customers' in parallel.
    await broker.PublishAsync("orders", new BrokerMessage($"order-{i}", order, "application/json") { OrderingKey = $"customer-{i % 2}" });
}

// A producer that timed out and publishes order-3 again: the broker keeps the first and returns its receipt.
var repeat = await broker.PublishAsync("orders", new BrokerMessage("order-3", JsonSerializer.SerializeToUtf8Bytes(new { Id = "order-3" }), "application/json"));
Console.WriteLine($"order-3 published again: stored once, as sequence {repeat.Sequence}");

await broker.PublishAsync("orders", new BrokerMessage("order-bad", Encoding.UTF8.GetBytes("{not json"), "application/json"));
Console.WriteLine("published 6 order events");

// Inventory worker: returning acks; throwing requeues, and after the queue's attempts the broker dead-letters.
var reserved = 0;
await using (var worker = await broker.ConsumeAsync("orders", (delivery, _) =>
{
    using var order = JsonDocument.Parse(delivery.Body);
    Interlocked.Increment(ref reserved);
    Console.WriteLine($"inventory: reserved {order.RootElement.GetProperty("Quantity")} x widget for {delivery.MessageId}");
    return Task.CompletedTask;
}))
{
    while ((await admin.GetQueueInfoAsync("orders")).Depth > 0)
    {
        await Task.Delay(200);
    }
}

await foreach (var dead in broker.ReadAllAsync("orders.dlq"))
{
    Console.WriteLine($"dead letter: {dead.MessageId} after {dead.Headers![BrokerHeaders.Attempts]} attempts: {dead.Headers[BrokerHeaders.DeadLetterReason]}");
    await broker.CompleteAsync(dead);
    break;
}

Console.WriteLine($"done: {reserved} orders reserved");
await host.StopAsync();
