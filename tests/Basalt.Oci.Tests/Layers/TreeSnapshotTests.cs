using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Layers;

/// <summary>TreeSnapshot is what other tests trust to find differences, so it is tested to find them.</summary>
public sealed class TreeSnapshotTests
{
    private static (TempDirectory Temp, string A, string B) TwoTrees()
    {
        var temp = new TempDirectory("snapshot");
        var time = new DateTimeOffset(2022, 1, 1, 0, 0, 0, TimeSpan.Zero);
        foreach (var root in new[] { temp.Combine("a"), temp.Combine("b") })
        {
            Directory.CreateDirectory(Path.Combine(root, "d"));
            File.WriteAllText(Path.Combine(root, "d/f"), "content");
            File.CreateSymbolicLink(Path.Combine(root, "link"), "d/f");
            Posix.CreateHardLink(Path.Combine(root, "d/f"), Path.Combine(root, "hard"));
            foreach (var path in new[] { "d/f", "link", "d", "" })
            {
                Posix.SetTimes(Path.Combine(root, path), time, time);
            }
        }

        return (temp, temp.Combine("a"), temp.Combine("b"));
    }

    [Fact]
    public void Identical_trees_have_no_differences()
    {
        var (temp, a, b) = TwoTrees();
        using (temp)
        {
            Assert.Empty(TreeSnapshot.Differences(TreeSnapshot.Capture(a), TreeSnapshot.Capture(b)));
            Assert.Equal("d/f", TreeSnapshot.Capture(a)["hard"].HardLinkGroup);
        }
    }

    [Fact]
    public void Every_kind_of_difference_is_reported()
    {
        var (temp, a, b) = TwoTrees();
        using (temp)
        {
            File.Delete(Path.Combine(b, "hard"));
            File.WriteAllText(Path.Combine(b, "hard"), "content"); // same bytes, no longer the same inode
            File.SetUnixFileMode(Path.Combine(b, "d/f"), UnixFileMode.UserRead | UnixFileMode.SetUser);
            File.Delete(Path.Combine(b, "link"));
            File.CreateSymbolicLink(Path.Combine(b, "link"), "elsewhere");
            File.WriteAllText(Path.Combine(b, "extra"), "x");
            Posix.SetExtendedAttribute(Path.Combine(b, "d"), "user.note", [1, 2]);

            var differences = TreeSnapshot.Differences(TreeSnapshot.Capture(a), TreeSnapshot.Capture(b), new TreeCompareOptions { IgnoreModifiedTimes = true });
            Assert.Contains(differences, d => d.StartsWith("hard: hard-link group", StringComparison.Ordinal));
            Assert.Contains(differences, d => d.StartsWith("d/f: mode 0644 expected, found 4400", StringComparison.Ordinal));
            Assert.Contains(differences, d => d.StartsWith("link: symlink target", StringComparison.Ordinal));
            Assert.Contains(differences, d => d.StartsWith("extra: unexpected", StringComparison.Ordinal));
            Assert.Contains(differences, d => d.StartsWith("d: xattr user.note", StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Ignored_paths_and_directory_times_are_left_out()
    {
        var (temp, a, b) = TwoTrees();
        using (temp)
        {
            File.WriteAllText(Path.Combine(b, "d/f"), "changed");
            Directory.CreateDirectory(Path.Combine(b, "d/new"));
            var options = new TreeCompareOptions { IgnoredPaths = new HashSet<string> { "d", "hard" }, IgnoreDirectoryModifiedTimes = true };
            Assert.Empty(TreeSnapshot.Differences(TreeSnapshot.Capture(a), TreeSnapshot.Capture(b), options));
            Assert.NotEmpty(TreeSnapshot.Differences(TreeSnapshot.Capture(a), TreeSnapshot.Capture(b)));
        }
    }
}
