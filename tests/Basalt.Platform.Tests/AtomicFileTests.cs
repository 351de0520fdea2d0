using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Platform.Tests;

public sealed class AtomicFileTests
{
    [Fact]
    public void Writing_replaces_the_whole_file_and_leaves_no_temporary_behind()
    {
        using var directory = new TempDirectory("atomic");
        var path = directory.Combine("state.json");
        File.WriteAllText(path, "old content that is longer");

        AtomicFile.WriteAllText(path, "new");

        Assert.Equal("new", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(directory.Path));
    }

    [Fact]
    public async Task A_failing_writer_leaves_the_old_file_untouched_and_no_temporary()
    {
        using var directory = new TempDirectory("atomic");
        var path = directory.Combine("state.json");
        File.WriteAllText(path, "old");

        await Assert.ThrowsAsync<InvalidOperationException>(() => AtomicFile.WriteAsync(path, async (stream, ct) =>
        {
            await stream.WriteAsync("partial"u8.ToArray(), ct);
            throw new InvalidOperationException("writer failed half-way");
        }));

        Assert.Equal("old", File.ReadAllText(path));
        Assert.Single(Directory.GetFiles(directory.Path));
    }

    [Fact]
    public void Temporary_siblings_live_in_the_same_directory_so_the_rename_is_atomic()
    {
        var sibling = AtomicFile.TemporarySibling("/var/lib/basalt/state.json");

        Assert.Equal("/var/lib/basalt", Path.GetDirectoryName(sibling));
        Assert.StartsWith(".state.json.tmp-", Path.GetFileName(sibling));
    }
}
