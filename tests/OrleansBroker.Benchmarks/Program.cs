using BenchmarkDotNet.Running;

// Micro-benchmarks of the broker's hot paths. The broker as a whole is measured by `obroker bench`.
// dotnet run -c Release --project tests/OrleansBroker.Benchmarks -- --filter '*'
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
