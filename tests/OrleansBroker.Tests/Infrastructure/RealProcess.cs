using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>Starts the repository's own executables (silo-host, obroker) as real processes, as a user would.</summary>
public static class RealProcess
{
    public static readonly string RepoRoot = FindRepoRoot();

#if DEBUG
    private const string Configuration = "Debug";
#else
    private const string Configuration = "Release";
#endif

    public static string SiloDll => Path.Combine(RepoRoot, "silo-host", "bin", Configuration, "net10.0", "obroker-silo.dll");

    public static string CliDll => Path.Combine(RepoRoot, "src", "OrleansBroker.Cli", "bin", Configuration, "net10.0", "obroker.dll");

    /// <summary>A TCP port free right now on loopback.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static Process Start(string dll, string workingDirectory, params string[] args)
    {
        var info = new ProcessStartInfo("dotnet")
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return Process.Start(info) ?? throw new InvalidOperationException($"could not start {dll}");
    }

    /// <summary>Runs a command to its end; returns exit code, stdout and stderr.</summary>
    public static async Task<(int ExitCode, string Out, string Err)> RunAsync(string dll, string workingDirectory, TimeSpan timeout, params string[] args)
    {
        using var process = Start(dll, workingDirectory, args);
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{Path.GetFileName(dll)} {string.Join(' ', args)} did not finish in {timeout}; stderr: {await stderr}");
        }

        return (process.ExitCode, await stdout, await stderr);
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OrleansBroker.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("OrleansBroker.sln not found above the test binaries.");
    }
}

/// <summary>A silo-host process on free ports and its own data folder; its output is collected for assertions.</summary>
public sealed class SiloProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly Lock _lock = new();

    public SiloProcess(string dataDirectory, int siloPort, int gatewayPort, params string[] extraArgs)
    {
        _process = RealProcess.Start(RealProcess.SiloDll, dataDirectory,
            ["--data-dir", dataDirectory, "--silo-port", $"{siloPort}", "--gateway-port", $"{gatewayPort}", .. extraArgs]);
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output
    {
        get
        {
            lock (_lock)
            {
                return _output.ToString();
            }
        }
    }

    public Task WaitUntilReadyAsync() =>
        Eventually.HoldsAsync(() => _process.HasExited ? throw new InvalidOperationException($"silo exited: {Output}") : Output.Contains("Application started", StringComparison.Ordinal), "silo-host ready");

    /// <summary>kill -9: no shutdown, no flush.</summary>
    public void KillHard()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_lock)
            {
                _output.AppendLine(line);
            }
        }
    }
}
