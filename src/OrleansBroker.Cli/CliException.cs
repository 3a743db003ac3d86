namespace OrleansBroker.Cli;

/// <summary>A failure the CLI reports as one line on stderr with its exit code.</summary>
internal sealed class CliException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
