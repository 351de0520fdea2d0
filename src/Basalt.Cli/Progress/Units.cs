namespace Basalt.Cli.Progress;

/// <summary>Human-readable sizes and durations for progress and inspect output.</summary>
public static class Units
{
    private static readonly string[] Suffixes = ["B", "KiB", "MiB", "GiB", "TiB"];

    public static string Bytes(long bytes)
    {
        if (bytes < 1024)
        {
            return $"{bytes} B";
        }

        double value = bytes;
        var unit = 0;
        while (value >= 1024 && unit < Suffixes.Length - 1)
        {
            value /= 1024;
            unit++;
        }

        return $"{value:0.0} {Suffixes[unit]}";
    }

    /// <summary>
    /// <paramref name="part"/> as a percentage of <paramref name="whole"/>; a share too small to show says so
    /// ("&lt; 0.001 %") instead of rounding to a "0 %" that reads as nothing at all.
    /// </summary>
    public static string Share(long part, long whole)
    {
        if (whole <= 0 || part <= 0)
        {
            return "0 %";
        }

        var percent = 100.0 * part / whole;
        return percent < 0.001
            ? "< 0.001 %"
            : string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{percent:0.###} %");
    }

    public static string Duration(TimeSpan duration)
    {
        if (duration < TimeSpan.Zero)
        {
            duration = TimeSpan.Zero;
        }

        var totalSeconds = (long)Math.Round(duration.TotalSeconds);
        var hours = totalSeconds / 3600;
        var minutes = totalSeconds / 60 % 60;
        var seconds = totalSeconds % 60;
        return hours > 0 ? $"{hours}:{minutes:00}:{seconds:00}" : $"{minutes}:{seconds:00}";
    }
}
