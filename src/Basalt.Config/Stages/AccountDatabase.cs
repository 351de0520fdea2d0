using System.Globalization;
using Basalt.Platform;

namespace Basalt.Config.Stages;

/// <summary>A line of /etc/passwd.</summary>
public sealed record PasswdEntry(string Name, string Password, int Uid, int Gid, string Gecos, string Home, string Shell)
{
    public override string ToString() => string.Join(':', Name, Password, Uid.ToString(CultureInfo.InvariantCulture), Gid.ToString(CultureInfo.InvariantCulture), Gecos, Home, Shell);
}

/// <summary>A line of /etc/group.</summary>
public sealed record GroupEntry(string Name, string Password, int Gid, IReadOnlyList<string> Members)
{
    public override string ToString() => string.Join(':', Name, Password, Gid.ToString(CultureInfo.InvariantCulture), string.Join(',', Members));
}

/// <summary>
/// /etc/passwd, /etc/shadow and /etc/group of a root, edited in memory and written back atomically with
/// their modes and owners kept. Lines Basalt does not understand (comments, NIS "+" lines) are kept as they are.
/// </summary>
public sealed class AccountDatabase
{
    private readonly string _root;
    private readonly List<object> _passwd;
    private readonly List<object> _shadow;
    private readonly List<object> _group;

    private AccountDatabase(string root, List<object> passwd, List<object> shadow, List<object> group)
    {
        _root = root;
        _passwd = passwd;
        _shadow = shadow;
        _group = group;
    }

    public static AccountDatabase Load(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        return new AccountDatabase(
            root,
            ReadLines(root, "/etc/passwd").Select(ParsePasswd).ToList(),
            ReadLines(root, "/etc/shadow").Select(line => (object)line).ToList(),
            ReadLines(root, "/etc/group").Select(ParseGroup).ToList());
    }

    public IEnumerable<PasswdEntry> Users => _passwd.OfType<PasswdEntry>();

    public IEnumerable<GroupEntry> Groups => _group.OfType<GroupEntry>();

    public PasswdEntry? FindUser(string name) => Users.FirstOrDefault(u => u.Name == name);

    public GroupEntry? FindGroup(string name) => Groups.FirstOrDefault(g => g.Name == name);

    public void SetUser(PasswdEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        Replace(_passwd, o => o is PasswdEntry u && u.Name == entry.Name, entry);
    }

    public void SetGroup(GroupEntry entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        Replace(_group, o => o is GroupEntry g && g.Name == entry.Name, entry);
    }

    /// <summary>The shadow fields of <paramref name="name"/>, or null.</summary>
    public string[]? FindShadow(string name) =>
        _shadow.OfType<string>().Select(line => line.Split(':')).FirstOrDefault(fields => fields.Length > 1 && fields[0] == name);

    /// <summary>Sets the password hash, keeping the ageing fields of an existing entry; the change date becomes today.</summary>
    public void SetPassword(string name, string hash, DateTimeOffset now)
    {
        var days = (now.ToUnixTimeSeconds() / 86400).ToString(CultureInfo.InvariantCulture);
        var fields = FindShadow(name) is { } existing && existing.Length >= 9
            ? existing
            : [name, "", "", "0", "99999", "7", "", "", ""];
        fields[1] = hash;
        fields[2] = days;
        var line = string.Join(':', fields);
        var index = _shadow.FindIndex(o => o is string s && s.StartsWith(name + ":", StringComparison.Ordinal));
        if (index >= 0)
        {
            _shadow[index] = line;
        }
        else
        {
            _shadow.Add(line);
        }
    }

    public int NextFreeUid(int from, int to) => NextFree(Users.Select(u => u.Uid), from, to, "user id");

    public int NextFreeGid(int from, int to) => NextFree(Groups.Select(g => g.Gid), from, to, "group id");

    public bool IsGidFree(int gid) => Groups.All(g => g.Gid != gid);

    public void Save()
    {
        Write("/etc/passwd", _passwd, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        Write("/etc/group", _group, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);
        Write("/etc/shadow", _shadow, UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private void Write(string file, List<object> lines, UnixFileMode newFileMode)
    {
        var path = RootPath.Resolve(_root, file);
        var text = string.Concat(lines.Select(line => line + "\n"));
        if (File.Exists(path) && File.ReadAllText(path) == text)
        {
            return;
        }

        var keep = Posix.TryGetStatus(path, out var status) ? status : (UnixFileStatus?)null;
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        var mode = keep is { } s ? s.Mode & (UnixFileMode)0xFFF : newFileMode;
        RootFiles.WriteAtomic(path, System.Text.Encoding.UTF8.GetBytes(text), mode, keep is { } k ? (k.UserId, k.GroupId) : null, null);
    }

    private static int NextFree(IEnumerable<int> used, int from, int to, string what)
    {
        var taken = used.ToHashSet();
        for (var id = from; id <= to; id++)
        {
            if (!taken.Contains(id))
            {
                return id;
            }
        }

        throw new StageStepException($"no free {what} between {from} and {to}");
    }

    private static void Replace(List<object> lines, Predicate<object> match, object entry)
    {
        var index = lines.FindIndex(match);
        if (index >= 0)
        {
            lines[index] = entry;
        }
        else
        {
            lines.Add(entry);
        }
    }

    private static IEnumerable<string> ReadLines(string root, string file)
    {
        var path = RootPath.Resolve(root, file);
        return File.Exists(path) ? File.ReadAllLines(path).Where(line => line.Length > 0) : [];
    }

    private static object ParsePasswd(string line)
    {
        var f = line.Split(':');
        return f.Length == 7 && int.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var uid)
            && int.TryParse(f[3], NumberStyles.None, CultureInfo.InvariantCulture, out var gid)
            ? new PasswdEntry(f[0], f[1], uid, gid, f[4], f[5], f[6])
            : line;
    }

    private static object ParseGroup(string line)
    {
        var f = line.Split(':');
        return f.Length == 4 && int.TryParse(f[2], NumberStyles.None, CultureInfo.InvariantCulture, out var gid)
            ? new GroupEntry(f[0], f[1], gid, f[3].Split(',', StringSplitOptions.RemoveEmptyEntries))
            : line;
    }
}
