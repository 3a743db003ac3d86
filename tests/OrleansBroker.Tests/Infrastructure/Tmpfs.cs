using System.Diagnostics;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>
/// A small real file system of the test's own (tmpfs of a given size, mounted in a fresh folder; needs root, as CI has),
/// to fill up without touching the machine's disk. Unmounted on dispose.
/// </summary>
public sealed class Tmpfs : IDisposable
{
    private Tmpfs(string directory) => Directory = directory;

    /// <summary>The mount point.</summary>
    public string Directory { get; }

    /// <summary>Bytes free on it now, as a program writing there sees them.</summary>
    public long AvailableBytes => new DriveInfo(Directory).AvailableFreeSpace;

    public static Tmpfs Mount(int megabytes)
    {
        var directory = Path.Combine(Path.GetTempPath(), "obroker-tmpfs", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(directory);
        var (exitCode, error) = Run("mount", "-t", "tmpfs", "-o", $"size={megabytes}m", "tmpfs", directory);
        if (exitCode != 0)
        {
            System.IO.Directory.Delete(directory);
            throw new InvalidOperationException($"This test needs a small file system of its own and could not mount a tmpfs (it needs root): mount exited {exitCode}: {error}");
        }

        return new Tmpfs(directory);
    }

    /// <summary>
    /// Writes a file until the file system has <paramref name="leaveBytes"/> free (0: until it is full), as another program
    /// filling the disk would; returns its path.
    /// </summary>
    public string Fill(long leaveBytes = 0)
    {
        var path = Path.Combine(Directory, "filler-" + Guid.NewGuid().ToString("N"));
        var block = new byte[64 * 1024];
        using var file = new FileStream(path, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1, FileOptions.None);
        try
        {
            // At most the whole file system: a full disk ends the loop with an IOException long before.
            for (var written = 0L; written <= new DriveInfo(Directory).TotalSize && AvailableBytes > leaveBytes; written += block.Length)
            {
                file.Write(block, 0, (int)Math.Min(block.Length, Math.Max(AvailableBytes - leaveBytes, 1)));
            }
        }
        catch (IOException)
        {
            // Full.
        }

        return path;
    }

    public void Dispose()
    {
        // Lazy unmount: a process the test started and killed may hold a file a moment longer.
        Run("umount", "-l", Directory);
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // Left in the temp folder.
        }
    }

    private static (int ExitCode, string Error) Run(string program, params string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardError = true, RedirectStandardOutput = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {program}");
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, error.Trim());
    }
}
