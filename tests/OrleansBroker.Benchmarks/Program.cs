using BenchmarkDotNet.Running;
using OrleansBroker.Benchmarks;

// Micro-benchmarks of the broker's hot paths. The broker as a whole is measured by `obroker bench`.
// dotnet run -c Release --project tests/OrleansBroker.Benchmarks -- --filter '*'
// The console's first paint with many queues: tests/OrleansBroker.Benchmarks/console-bench.sh (runs `console-paint`).
if (args is ["console-paint", ..])
{
    return await ConsolePaint.RunAsync(args[1..]);
}

// RabbitMQ in the shape of `obroker bench latency`, for side-by-side figures: tests/OrleansBroker.Benchmarks/rabbitmq-bench.sh.
if (args is ["rabbitmq-latency", ..])
{
    return await RabbitLatency.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
