using System.Diagnostics;
using System.Globalization;

namespace OrleansBroker.Cli.Bench;

/// <summary>The broker's process as the bench sees it: memory from <c>/proc</c>, and for the recovery scenario, start and kill.</summary>
internal static class BrokerProcess
{
    /// <summary>Resident set size now and at its peak, in MiB, or null where <c>/proc/PID/status</c> cannot be read (not Linux, no such process).</summary>
    public static (double Rss, double Peak)? Memory(int? pid) =>
        ProcLines(pid, "status") is { } lines
        && lines.FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)) is { } rss
        && lines.FirstOrDefault(l => l.StartsWith("VmHWM:", StringComparison.Ordinal)) is { } peak
            ? (Math.Round(Kib(rss) / 1024, 1), Math.Round(Kib(peak) / 1024, 1))
            : null;

    /// <summary>
    /// Bytes the process has caused to be written to storage so far (<c>write_bytes</c> of <c>/proc/PID/io</c>: counted when
    /// it dirties a page, so a write is counted before the kernel flushes it), or null where that cannot be read.
    /// </summary>
    public static long? WrittenBytes(int? pid) =>
        ProcLines(pid, "io")?.FirstOrDefault(l => l.StartsWith("write_bytes:", StringComparison.Ordinal)) is { } line
            ? long.Parse(line["write_bytes:".Length..].Trim(), CultureInfo.InvariantCulture)
            : null;

    /// <summary>Bytes written since <paramref name="before"/> per message of <paramref name="messages"/>, or null.</summary>
    public static double? WrittenPerMessage(int? pid, long? before, long messages) =>
        WrittenBytes(pid) is { } after && before is { } start && messages > 0 ? Math.Round((double)(after - start) / messages, 0) : null;

    /// <summary>The lines of <c>/proc/PID/FILE</c>, or null where it cannot be read (not Linux, no such process, no permission).</summary>
    private static string[]? ProcLines(int? pid, string file)
    {
        if (pid is null)
        {
            return null;
        }

        try
        {
            return File.ReadAllLines($"/proc/{pid}/{file}");
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static double Kib(string line) =>
        double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture);

    /// <summary>Starts the silo command with its output appended to <paramref name="logPath"/>.</summary>
    public static Process Start(IReadOnlyList<string> command, string logPath)
    {
        var info = new ProcessStartInfo(command[0])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in command.Skip(1))
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info) ?? throw new CliException(2, $"could not start '{string.Join(' ', command)}'");
        var log = new StreamWriter(logPath, append: true) { AutoFlush = true };
        var sync = new Lock();
        var closed = false;
        void Write(string? line)
        {
            lock (sync)
            {
                // Output can still arrive after Exited closed the log: it is dropped, not written to a closed file.
                if (line is not null && !closed)
                {
                    log.WriteLine(line);
                }
            }
        }

        process.OutputDataReceived += (_, e) => Write(e.Data);
        process.ErrorDataReceived += (_, e) => Write(e.Data);
        process.Exited += (_, _) =>
        {
            lock (sync)
            {
                closed = true;
                log.Dispose();
            }
        };
        process.EnableRaisingEvents = true;
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>Asks the process to stop (SIGTERM, a graceful silo shutdown) and waits; kills it if it has not stopped in time.</summary>
    public static async Task StopAsync(Process process, TimeSpan grace)
    {
        if (process.HasExited)
        {
            return;
        }

        if (!OperatingSystem.IsWindows())
        {
            using var kill = Process.Start("kill", ["-TERM", process.Id.ToString(CultureInfo.InvariantCulture)]);
            await kill.WaitForExitAsync().ConfigureAwait(false);
        }

        using var timeout = new CancellationTokenSource(grace);
        try
        {
            await process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync().ConfigureAwait(false);
        }
    }
}
