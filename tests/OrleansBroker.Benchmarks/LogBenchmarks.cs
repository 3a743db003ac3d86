using BenchmarkDotNet.Attributes;
using Microsoft.Extensions.Logging.Abstractions;
using OrleansBroker.Server.Log;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Benchmarks;

/// <summary>
/// The message log on its own: one operation appends a batch, waits until it is committed, then settles
/// it and commits again, so the log stays the same size from one operation to the next. Storage is a
/// dictionary behind the real serializer. The log runs on one exclusive scheduler, as in its grain.
/// </summary>
[MemoryDiagnoser]
public class LogBenchmarks
{
    private readonly TaskScheduler _scheduler = new ConcurrentExclusiveSchedulerPair().ExclusiveScheduler;
    private MessageLog _log = null!;

    [Params(1, 100)]
    public int MessagesPerAppend { get; set; }

    [Params(1024)]
    public int BodyBytes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var storage = new SerializingMemoryStorage(BenchData.StorageSerializer);
        _log = new MessageLog(storage, GrainId.Create("bench", "log"), new MessageLogOptions(1024 * 1024, 2000, 16 * 1024 * 1024), NullLogger.Instance, new IgnoringListener());
        Run(() => _log.LoadAsync()).GetAwaiter().GetResult();
    }

    [Benchmark(Description = "append, commit, settle, commit")]
    public Task AppendAndSettle() => Run(async () =>
    {
        var messages = BenchData.Messages(_log.Meta.NextSequence, MessagesPerAppend, BodyBytes);
        foreach (var _ in messages)
        {
            _log.NextSequence();
        }

        await _log.AppendAsync(messages);
        foreach (var message in messages)
        {
            _log.Settle(message.Sequence);
        }

        await _log.CommitAsync();
    });

    private Task Run(Func<Task> work) => Task.Factory.StartNew(work, CancellationToken.None, TaskCreationOptions.None, _scheduler).Unwrap();
}

/// <summary>A log owner that does nothing with what it hears: the benchmark measures the log alone.</summary>
internal sealed class IgnoringListener : IMessageLogListener
{
    public void OnCommitted(IReadOnlyList<LogEntry> entries)
    {
    }

    public void OnRecovered(IReadOnlyList<LogEntry> entries)
    {
    }

    public void OnPagedIn()
    {
    }

    public void OnLogTakenOver()
    {
    }
}
