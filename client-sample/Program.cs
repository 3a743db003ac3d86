using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansBroker.Client.Hosting;
using OrleansBroker.ClientSample;

// Order events between two services of one application. The order service publishes to the queue "orders" (each
// customer's orders in order, a publish retried after a timeout stored once); the inventory worker, a BackgroundService,
// consumes them; one malformed order fails three times with backoff and ends in "orders.dlq", where the worker reads it.
// The run ends by itself once every order of this run is settled (exit 0), or after a deadline (exit 1).
//
// Start a broker first: dotnet run --project silo-host. Settings: the Broker section (appsettings.json, Broker__* environment
// variables, or --Broker:GatewayPort=30001), the same keys a silo reads; none are needed for a local silo-host.
var builder = Host.CreateApplicationBuilder(args);
builder.UseOrleansClient(client => client.UseBrokerClient(builder.Configuration));
builder.Services.AddSingleton(new OrderRun(orders: 5, deadline: TimeSpan.FromSeconds(60)));
builder.Services.AddHostedService<OrdersQueueSetup>(); // Started before the two below: the queue exists when they begin.
builder.Services.AddHostedService<InventoryWorker>();
builder.Services.AddHostedService<OrderService>();

// The Orleans client's own start-up lines are for diagnosing a connection; the sample's are the story.
builder.Logging.AddFilter("Orleans.", LogLevel.Warning);

var host = builder.Build();
var run = host.Services.GetRequiredService<OrderRun>();
await host.RunAsync(); // Returns once the worker has stopped the application, and disposes the host.
return run.Succeeded ? 0 : 1;
