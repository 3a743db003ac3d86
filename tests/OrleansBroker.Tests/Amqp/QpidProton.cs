using System.Diagnostics;
using OrleansBroker.Tests.Infrastructure;

namespace OrleansBroker.Tests.Amqp;

/// <summary>
/// Qpid Proton's Python binding, a client no one here wrote, driven by <c>Amqp/proton_client.py</c> under Debian's
/// <c>/usr/bin/python3</c> (package python3-qpid-proton, installed on first use, see <see cref="DebianPackage"/>).
/// </summary>
public static class QpidProton
{
    private static string Script => Path.Combine(AppContext.BaseDirectory, "Amqp", "proton_client.py");

    private static Task EnsureAsync() =>
        DebianPackage.EnsureAsync("/usr/lib/python3/dist-packages/proton/__init__.py", "python3-qpid-proton", "The AMQP interoperation tests");

    /// <summary>Sends <paramref name="count"/> messages m0.. unsettled, each waited for; the script's exit code and output.</summary>
    public static async Task<(int ExitCode, string Out, string Err)> SendAsync(int port, string user, string password, string address, int count)
    {
        await EnsureAsync();
        return await RealProcess.RunProgramAsync("/usr/bin/python3", Path.GetTempPath(), TimeSpan.FromMinutes(5),
            Script, "send", $"amqp://127.0.0.1:{port}", user, password, address, $"{count}");
    }

    /// <summary>
    /// A receiver that accepts each message (rejects one whose body is "reject"), adds its id to <paramref name="received"/>,
    /// and connects again when the connection fails; runs until the process is killed.
    /// </summary>
    public static async Task<Process> StartReceiverAsync(int port, string user, string password, string address, int credit, Action<string> received)
    {
        await EnsureAsync();
        var process = RealProcess.StartProgram("/usr/bin/python3", Path.GetTempPath(),
            [Script, "receive", $"amqp://127.0.0.1:{port}", user, password, address, $"{credit}"]);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                received(line);
            }
        };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }
}
