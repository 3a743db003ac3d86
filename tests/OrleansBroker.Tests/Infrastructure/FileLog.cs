using Microsoft.Extensions.Logging;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>
/// Silo logs of the in-process clusters, appended to the file named by <c>OBROKER_TEST_LOG</c> when it is
/// set (for debugging a failing test); nothing is written otherwise.
/// </summary>
public sealed class FileLog : ILoggerProvider
{
    public const string Variable = "OBROKER_TEST_LOG";
    private static readonly Lock Gate = new();
    private readonly string _path;

    private FileLog(string path) => _path = path;

    public static FileLog? FromEnvironment() =>
        Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } path ? new FileLog(path) : null;

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private void Write(string line)
    {
        lock (Gate)
        {
            File.AppendAllText(_path, line + Environment.NewLine);
        }
    }

    private sealed class Logger(FileLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information || category.StartsWith("OrleansBroker", StringComparison.Ordinal);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                log.Write($"{DateTime.UtcNow:HH:mm:ss.fff} {logLevel} {category}: {formatter(state, exception)}{(exception is null ? "" : " " + exception)}");
            }
        }
    }
}
