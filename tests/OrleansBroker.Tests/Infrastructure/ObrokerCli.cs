using Xunit;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>The obroker CLI as a real process against one local gateway, run from a test's data folder.</summary>
public sealed class ObrokerCli(string workingDirectory, int gatewayPort)
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    /// <summary>Runs obroker with <paramref name="args"/> and the gateway; exit code and output, whatever they are.</summary>
    public Task<(int ExitCode, string Out, string Err)> RunAsync(params string[] args) =>
        RealProcess.RunAsync(RealProcess.CliDll, workingDirectory, Timeout, [.. args, "--gateway", $"127.0.0.1:{gatewayPort}"]);

    /// <summary>Runs obroker, asserts it exited 0, and returns stdout followed by stderr.</summary>
    public async Task<string> OkAsync(params string[] args)
    {
        var result = await RunAsync(args);
        Assert.True(result.ExitCode == 0, $"obroker {string.Join(' ', args)} exited {result.ExitCode}: {result.Err}");
        return result.Out + result.Err;
    }
}
