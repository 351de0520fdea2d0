using System.Text;

namespace Basalt.Agent.State;

/// <summary>One line of <c>/proc/self/mountinfo</c>: where, what filesystem, from which device.</summary>
public sealed record MountEntry(string MountPoint, string FileSystem, string Source);

/// <summary>Reads <c>/proc/self/mountinfo</c> (proc(5)): later lines are mounts stacked over earlier ones.</summary>
public static class MountTable
{
    public static IReadOnlyList<MountEntry> Parse(string mountInfo)
    {
        ArgumentNullException.ThrowIfNull(mountInfo);
        var entries = new List<MountEntry>();
        foreach (var line in mountInfo.Split('\n', StringSplitOptions.RemoveEmptyEntries))
        {
            var fields = line.Split(' ');
            var separator = Array.IndexOf(fields, "-");
            if (fields.Length < 5 || separator < 6 || separator + 2 >= fields.Length)
            {
                continue;
            }

            entries.Add(new MountEntry(Unescape(fields[4]), fields[separator + 1], Unescape(fields[separator + 2])));
        }

        return entries;
    }

    /// <summary>The mount on exactly <paramref name="mountPoint"/>, the topmost when several are stacked.</summary>
    public static MountEntry? Find(IReadOnlyList<MountEntry> entries, string mountPoint)
    {
        ArgumentNullException.ThrowIfNull(entries);
        var wanted = Path.TrimEndingDirectorySeparator(mountPoint);
        return entries.LastOrDefault(e => Path.TrimEndingDirectorySeparator(e.MountPoint) == wanted || (wanted.Length == 0 && e.MountPoint == "/"));
    }

    // The kernel writes space, tab, newline and backslash in paths as \ooo octal escapes.
    private static string Unescape(string field)
    {
        if (!field.Contains('\\', StringComparison.Ordinal))
        {
            return field;
        }

        var text = new StringBuilder(field.Length);
        for (var i = 0; i < field.Length; i++)
        {
            if (field[i] == '\\' && i + 3 < field.Length && IsOctal(field[i + 1]) && IsOctal(field[i + 2]) && IsOctal(field[i + 3]))
            {
                text.Append((char)Convert.ToInt32(field.Substring(i + 1, 3), 8));
                i += 3;
            }
            else
            {
                text.Append(field[i]);
            }
        }

        return text.ToString();
    }

    private static bool IsOctal(char c) => c is >= '0' and <= '7';
}
