using System.Text;
using Basalt.Platform;

namespace Basalt.Testing;

/// <summary>
/// A small root filesystem holding every kind of entry an image must carry exactly: nested directories,
/// an executable, setuid/setgid files, a sticky directory, odd owners, symlinks (relative, absolute,
/// dangling), hard links, a fifo, a character device, a user xattr, a sparse file, an empty file and a
/// name with spaces. As non-root the entries only root can make (owners, devices) are left out.
/// </summary>
public static class SampleTree
{
    private static readonly DateTimeOffset FixedTime = new(2024, 5, 6, 7, 8, 9, TimeSpan.Zero);

    public static void Create(string root)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        var privileged = Posix.IsRoot;
        Directory.CreateDirectory(root);
        string P(string relative) => Path.Combine(root, relative);

        foreach (var directory in new[] { "etc", "usr/bin", "usr/lib/basalt", "var/empty", "tmp", "home/user", "srv/data dir" })
        {
            Directory.CreateDirectory(P(directory));
        }

        File.WriteAllText(P("etc/os-release"), "NAME=\"Basalt sample\"\nID=basalt-sample\n");
        File.WriteAllText(P("usr/bin/tool"), "#!/bin/sh\necho tool\n");
        File.SetUnixFileMode(P("usr/bin/tool"), (UnixFileMode)Convert.ToInt32("755", 8));
        File.WriteAllText(P("usr/bin/su-like"), "setuid\n");
        File.SetUnixFileMode(P("usr/bin/su-like"), (UnixFileMode)Convert.ToInt32("4755", 8));
        File.WriteAllText(P("usr/bin/group-tool"), "setgid\n");
        File.SetUnixFileMode(P("usr/bin/group-tool"), (UnixFileMode)Convert.ToInt32("2711", 8));
        File.SetUnixFileMode(P("tmp"), (UnixFileMode)Convert.ToInt32("1777", 8));
        File.WriteAllText(P("etc/secret"), "only root\n");
        File.SetUnixFileMode(P("etc/secret"), (UnixFileMode)Convert.ToInt32("600", 8));
        File.WriteAllBytes(P("usr/lib/basalt/blob.bin"), Enumerable.Range(0, 300_000).Select(i => (byte)(i * 7 % 251)).ToArray());
        File.WriteAllText(P("srv/data dir/name with spaces.txt"), "spaces\n");
        File.WriteAllBytes(P("var/empty/zero-length"), []);
        using (var sparse = new FileStream(P("var/sparse.img"), FileMode.Create))
        {
            sparse.SetLength(8L * 1024 * 1024);
            sparse.Position = 4L * 1024 * 1024;
            sparse.Write(Encoding.ASCII.GetBytes("middle of a sparse file"));
        }

        File.CreateSymbolicLink(P("usr/bin/tool-link"), "tool");
        File.CreateSymbolicLink(P("etc/absolute-link"), "/usr/bin/tool");
        File.CreateSymbolicLink(P("etc/dangling"), "../nowhere/at/all");
        Directory.CreateSymbolicLink(P("bin"), "usr/bin");
        Posix.CreateHardLink(P("usr/bin/tool"), P("usr/bin/tool-hardlink"));
        Posix.CreateHardLink(P("usr/bin/tool"), P("usr/lib/basalt/tool-second-hardlink"));
        Posix.CreateFifo(P("var/fifo"), (UnixFileMode)Convert.ToInt32("644", 8));
        Posix.SetExtendedAttribute(P("etc/os-release"), "user.basalt.origin", Encoding.UTF8.GetBytes("sample-tree"));

        if (privileged)
        {
            Directory.CreateDirectory(P("dev"));
            Posix.CreateDevice(P("dev/null"), UnixFileKind.CharacterDevice, (UnixFileMode)Convert.ToInt32("666", 8), 1, 3);
            Posix.ChangeOwner(P("home/user"), 1000, 1000);
            File.WriteAllText(P("home/user/notes.txt"), "owned by 1000:1000\n");
            Posix.ChangeOwner(P("home/user/notes.txt"), 1000, 1000);
            Posix.ChangeOwner(P("usr/bin/group-tool"), 0, 50);
            Posix.ChangeOwner(P("etc/dangling"), 1234, 5678);
        }

        // Fixed mtimes, deepest first, so directory times survive their children being written.
        foreach (var entry in Directory.EnumerateFileSystemEntries(root, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 })
                     .OrderByDescending(path => path.Length))
        {
            Posix.SetTimes(entry, FixedTime, FixedTime);
        }
    }
}
