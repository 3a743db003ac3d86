namespace OrleansBroker.Tests.Infrastructure;

/// <summary>
/// A program the tests need from a Debian package (Chromium, mosquitto clients, ...): used where installed, installed with
/// apt-get on first use when missing and the tests run as root, otherwise the test fails saying how to install it. One
/// install at a time (apt-get holds a lock).
/// </summary>
public static class DebianPackage
{
    private static readonly TimeSpan InstallTimeout = TimeSpan.FromMinutes(15);
    private static readonly SemaphoreSlim InstallGate = new(1, 1);

    /// <summary>Returns <paramref name="executable"/>, installing <paramref name="package"/> first if it is missing.</summary>
    public static Task<string> EnsureAsync(string executable, string package, string neededFor) =>
        EnsureAsync(() => File.Exists(executable) ? executable : null, executable, package, neededFor);

    /// <summary>
    /// Returns what <paramref name="locate"/> finds (a path that depends on the package's version, say), installing
    /// <paramref name="package"/> first if it finds nothing; <paramref name="what"/> names it in errors.
    /// </summary>
    public static async Task<string> EnsureAsync(Func<string?> locate, string what, string package, string neededFor)
    {
        if (locate() is { } found)
        {
            return found;
        }

        await InstallGate.WaitAsync();
        try
        {
            if (locate() is { } installed)
            {
                return installed;
            }

            if (Environment.UserName != "root" || !File.Exists("/usr/bin/apt-get"))
            {
                throw new InvalidOperationException($"{neededFor} need {what}: install Debian's package ('sudo apt-get install {package}').");
            }

            foreach (var args in new[] { new[] { "update", "-qq" }, new[] { "install", "-y", "-qq", "--no-install-recommends", package } })
            {
                var (code, output, error) = await RealProcess.RunProgramAsync("apt-get", Path.GetTempPath(), InstallTimeout, args);
                if (code != 0)
                {
                    throw new InvalidOperationException($"apt-get {string.Join(' ', args)} failed ({code}): {error}{output}");
                }
            }

            return locate() ?? throw new InvalidOperationException($"apt-get installed {package} but {what} is missing.");
        }
        finally
        {
            InstallGate.Release();
        }
    }
}
