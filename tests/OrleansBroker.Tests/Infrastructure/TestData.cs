namespace OrleansBroker.Tests.Infrastructure;

/// <summary>A unique folder per test under the temp directory, deleted on dispose.</summary>
public sealed class TestData : IDisposable
{
    public TestData()
    {
        Directory = Path.Combine(Path.GetTempPath(), "obroker-tests", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Directory);
    }

    public string Directory { get; }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
            // A process we started may still hold a file for a moment; the temp folder is cleaned by the OS.
        }
    }
}
