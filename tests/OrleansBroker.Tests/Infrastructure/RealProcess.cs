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

    public static string ClientSampleDll => Path.Combine(RepoRoot, "client-sample", "bin", Configuration, "net10.0", "client-sample.dll");

    /// <summary>A TCP port free right now on loopback.</summary>
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>Starts <c>dotnet DLL ARGS</c>.</summary>
    public static Process Start(string dll, string workingDirectory, params string[] args) => StartProgram("dotnet", workingDirectory, [dll, .. args]);

    /// <summary>Starts a program found on PATH with its output redirected.</summary>
    public static Process StartProgram(string program, string workingDirectory, IEnumerable<string> args, bool redirectInput = false)
    {
        var info = new ProcessStartInfo(program)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = redirectInput,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        return Process.Start(info) ?? throw new InvalidOperationException($"could not start {program}");
    }

    /// <summary>Runs <c>dotnet DLL ARGS</c> to its end; returns exit code, stdout and stderr.</summary>
    public static Task<(int ExitCode, string Out, string Err)> RunAsync(string dll, string workingDirectory, TimeSpan timeout, params string[] args) =>
        RunProgramAsync("dotnet", workingDirectory, timeout, [dll, .. args]);

    /// <summary>Runs a program found on PATH to its end, killing it after <paramref name="timeout"/>; returns exit code, stdout and stderr.</summary>
    public static Task<(int ExitCode, string Out, string Err)> RunProgramAsync(string program, string workingDirectory, TimeSpan timeout, params string[] args) =>
        RunProgramAsync(program, workingDirectory, timeout, null, args);

    /// <summary>As <see cref="RunAsync"/>, with <paramref name="input"/> written to its standard input (then closed).</summary>
    public static Task<(int ExitCode, string Out, string Err)> RunWithInputAsync(string dll, string workingDirectory, TimeSpan timeout, string input, params string[] args) =>
        RunProgramAsync("dotnet", workingDirectory, timeout, input, [dll, .. args]);

    private static async Task<(int ExitCode, string Out, string Err)> RunProgramAsync(string program, string workingDirectory, TimeSpan timeout, string? input, string[] args)
    {
        using var process = StartProgram(program, workingDirectory, args, redirectInput: input is not null);
        if (input is not null)
        {
            await process.StandardInput.WriteAsync(input);
            process.StandardInput.Close();
        }

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
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish in {timeout}; stderr: {await stderr}");
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

/// <summary>
/// A silo-host process on free ports and its own data folder; its output is collected for assertions. Its HTTP API listens
/// on a free port too unless <c>extraArgs</c> names one (<see cref="HttpAddress"/> says where).
/// </summary>
public sealed class SiloProcess : IDisposable
{
    private readonly Process _process;
    private readonly CapturedOutput _output;

    public SiloProcess(string dataDirectory, int siloPort, int gatewayPort, params string[] extraArgs)
    {
        _process = RealProcess.Start(RealProcess.SiloDll, dataDirectory,
            ["--data-dir", dataDirectory, "--silo-port", $"{siloPort}", "--gateway-port", $"{gatewayPort}", "--http-port", "0", "--mqtt-port", "0", "--amqp-port", "0", .. extraArgs]);
        _output = new CapturedOutput(_process);
    }

    public string Output => _output.Text;

    /// <summary>Where its HTTP API listens, from its start-up line (once ready).</summary>
    public Uri HttpAddress =>
        System.Text.RegularExpressions.Regex.Match(Output, @"HTTP API listening on (\S+)") is { Success: true } found
            ? new Uri(found.Groups[1].Value)
            : throw new InvalidOperationException($"silo-host has not said where its HTTP API listens: {Output}");

    /// <summary>The port of its MQTT listener, from its start-up line (once ready).</summary>
    public int MqttPort => ListenerPort("MQTT", "mqtt");

    /// <summary>The port of its MQTT over TLS listener, from its start-up line (once ready).</summary>
    public int MqttTlsPort => ListenerPort("MQTT", "mqtts");

    /// <summary>The port of its AMQP 1.0 listener, from its start-up line (once ready).</summary>
    public int AmqpPort => ListenerPort("AMQP 1.0", "amqp");

    /// <summary>The port of its AMQP 1.0 over TLS listener, from its start-up line (once ready).</summary>
    public int AmqpTlsPort => ListenerPort("AMQP 1.0", "amqps");

    private int ListenerPort(string protocol, string scheme) =>
        System.Text.RegularExpressions.Regex.Match(Output, $@"{protocol} listening on .*\b{scheme}://[^:]+:(\d+)") is { Success: true } found
            ? int.Parse(found.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture)
            : throw new InvalidOperationException($"silo-host has not said where it listens for {scheme}: {Output}");

    public int Pid => _process.Id;

    public Task WaitUntilReadyAsync() =>
        Eventually.HoldsAsync(() => _process.HasExited ? throw new InvalidOperationException($"silo exited: {Output}") : Output.Contains("Application started", StringComparison.Ordinal), "silo-host ready");

    public bool HasExited => _process.HasExited;

    /// <summary>SIGSTOP: the process stops running, its sockets stay open, as a silo stalled by a long GC pause or a frozen VM.</summary>
    public void Pause() => Signal(SigStop);

    /// <summary>SIGCONT after <see cref="Pause"/>.</summary>
    public void Resume() => Signal(SigCont);

    /// <summary>kill -9: no shutdown, no flush.</summary>
    public void KillHard()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit();
    }

    private const int SigCont = 18;
    private const int SigStop = 19;

    private void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0)
        {
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed: errno {System.Runtime.InteropServices.Marshal.GetLastPInvokeError()}");
        }
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int signal);

    public void Dispose()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            _process.WaitForExit();
        }

        _process.Dispose();
    }
}

/// <summary>Collects a started process's stdout and stderr lines as they come, for assertions and error messages.</summary>
public sealed class CapturedOutput
{
    private readonly StringBuilder _text = new();
    private readonly Lock _lock = new();

    public CapturedOutput(Process process)
    {
        process.OutputDataReceived += (_, e) => Append(e.Data);
        process.ErrorDataReceived += (_, e) => Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
    }

    public string Text
    {
        get
        {
            lock (_lock)
            {
                return _text.ToString();
            }
        }
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_lock)
            {
                _text.AppendLine(line);
            }
        }
    }
}
