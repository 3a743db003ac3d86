using System.Globalization;

namespace OrleansBroker.Server.Storage;

/// <summary>
/// The free space a silo keeps on its data folder's disk before it refuses publishes (<c>Broker:DiskFreeLimit</c>):
/// bytes with an optional unit (<c>1GiB</c>, <c>500MB</c>, <c>64MiB</c>, <c>1048576</c>), a share of the disk's
/// size (<c>5%</c>), or <c>0</c> for no limit. Units: B, KB/MB/GB/TB (powers of 1000), KiB/MiB/GiB/TiB (powers of 1024).
/// </summary>
internal readonly record struct DiskFreeLimit(long Bytes, double Percent)
{
    private static readonly (string Unit, long Factor)[] Units =
    [
        ("KiB", 1L << 10), ("MiB", 1L << 20), ("GiB", 1L << 30), ("TiB", 1L << 40),
        ("KB", 1000L), ("MB", 1000L * 1000), ("GB", 1000L * 1000 * 1000), ("TB", 1000L * 1000 * 1000 * 1000),
        ("B", 1L),
    ];

    /// <summary>No limit: publishes are never refused for disk space (a full disk still fails writes, typed).</summary>
    public bool IsOff => Bytes == 0 && Percent == 0;

    /// <summary>The limit in bytes on a disk of <paramref name="diskBytes"/>.</summary>
    public long Resolve(long diskBytes) => Percent > 0 ? (long)(diskBytes * Percent / 100) : Bytes;

    public static bool TryParse(string? text, out DiskFreeLimit limit)
    {
        limit = default;
        var value = text?.Trim() ?? "";
        if (value.EndsWith('%'))
        {
            if (double.TryParse(value[..^1], NumberStyles.Float, CultureInfo.InvariantCulture, out var percent) && percent is >= 0 and < 100)
            {
                limit = new DiskFreeLimit(0, percent);
                return true;
            }

            return false;
        }

        var factor = 1L;
        foreach (var (unit, f) in Units)
        {
            if (value.EndsWith(unit, StringComparison.OrdinalIgnoreCase))
            {
                value = value[..^unit.Length].TrimEnd();
                factor = f;
                break;
            }
        }

        if (!double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var amount) || amount < 0 || amount * factor > long.MaxValue / 2)
        {
            return false;
        }

        limit = new DiskFreeLimit((long)(amount * factor), 0);
        return true;
    }

    public override string ToString() => Percent > 0 ? $"{Percent.ToString(CultureInfo.InvariantCulture)}% of the disk" : Format(Bytes);

    /// <summary>Bytes in the largest binary unit that keeps a figure of at least 1, e.g. <c>15.2 MiB</c>.</summary>
    public static string Format(long bytes)
    {
        string[] names = ["B", "KiB", "MiB", "GiB", "TiB"];
        double size = bytes;
        var i = 0;
        while (Math.Abs(size) >= 1024 && i < names.Length - 1)
        {
            size /= 1024;
            i++;
        }

        return i == 0 ? $"{bytes} B" : string.Create(CultureInfo.InvariantCulture, $"{size:0.#} {names[i]}");
    }
}
