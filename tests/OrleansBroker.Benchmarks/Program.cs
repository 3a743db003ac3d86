using BenchmarkDotNet.Running;
using OrleansBroker.Benchmarks;

// Micro-benchmarks of the broker's hot paths. The broker as a whole is measured by `obroker bench`.
// dotnet run -c Release --project tests/OrleansBroker.Benchmarks -- --filter '*'
// The console's first paint with many queues: tests/OrleansBroker.Benchmarks/console-bench.sh (runs `console-paint`).
if (args is ["console-paint", ..])
{
    return await ConsolePaint.RunAsync(args[1..]);
}

BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
