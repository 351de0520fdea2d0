using System.Globalization;

namespace Basalt.Disk;

/// <summary>Byte arithmetic and wording used by disk sizing.</summary>
public static class ByteSize
{
    public const long KiB = 1024;
    public const long MiB = 1024 * KiB;
    public const long GiB = 1024 * MiB;

    public static long AlignUp(long value, long alignment) =>
        value % alignment == 0 ? value : checked(value + alignment - (value % alignment));

    public static long AlignDown(long value, long alignment) => value - (value % alignment);

    /// <summary>"1.5 GiB", "64 MiB", "512 B".</summary>
    public static string Format(long bytes)
    {
        string[] units = ["B", "KiB", "MiB", "GiB", "TiB"];
        double value = bytes;
        var unit = 0;
        while (Math.Abs(value) >= 1024 && unit < units.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return unit == 0
            ? string.Create(CultureInfo.InvariantCulture, $"{bytes} B")
            : string.Create(CultureInfo.InvariantCulture, $"{value:0.##} {units[unit]}");
    }

    /// <summary>The size rounded up to whole MiB, in the "NM" form the CLI's --size takes.</summary>
    public static string FormatMebibytes(long bytes) =>
        string.Create(CultureInfo.InvariantCulture, $"{AlignUp(bytes, MiB) / MiB}M");

    /// <summary>Parses "512", "64K", "300M", "8G", "1T" (binary units; optional trailing "iB"/"B").</summary>
    public static long Parse(string text)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(text);
        var trimmed = text.Trim();
        if (trimmed.EndsWith("iB", StringComparison.OrdinalIgnoreCase))
        {
            trimmed = trimmed[..^2];
        }
        else if (trimmed.Length > 1 && trimmed.EndsWith('B') && !char.IsDigit(trimmed[^2]))
        {
            trimmed = trimmed[..^1];
        }

        var multiplier = char.ToUpperInvariant(trimmed[^1]) switch
        {
            'K' => KiB,
            'M' => MiB,
            'G' => GiB,
            'T' => 1024 * GiB,
            _ => 1L,
        };
        var number = multiplier == 1 ? trimmed : trimmed[..^1];
        if (!long.TryParse(number, NumberStyles.None, CultureInfo.InvariantCulture, out var value) || value < 0)
        {
            throw new FormatException($"'{text}' is not a size: use a number with an optional K, M, G or T suffix");
        }

        return checked(value * multiplier);
    }
}
