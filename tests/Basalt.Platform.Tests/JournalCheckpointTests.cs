using Basalt.Testing;

namespace Basalt.Platform.Tests;

/// <summary>
/// The journal checkpoint on real filesystems, read back the way GRUB reads them: debugfs looks at the disk itself and
/// does not replay the journal.
/// </summary>
[Trait(Tiers.Key, Tiers.Integration)]
public sealed class JournalCheckpointTests
{
    private readonly ToolRunner _runner = new();

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_replaced_file_reaches_the_disk_itself_only_with_the_checkpoint(bool byFreezing)
    {
        RequireTools();
        using var directory = new TempDirectory("journal-checkpoint");
        var image = directory.Combine("state.img");
        var seed = directory.Combine("seed");
        Directory.CreateDirectory(seed);
        await File.WriteAllTextAsync(Path.Combine(seed, "grub.cfg"), "menu v1\n");
        await MakeExt4Async(image, seed, journal: true);
        var mount = directory.Combine("mnt");
        Directory.CreateDirectory(mount);
        await MountAsync(image, mount);
        try
        {
            AtomicFile.WriteAllText(Path.Combine(mount, "grub.cfg"), "menu v2\n");

            // fsync put the rename in the journal only: a journal-blind reader still finds the old file.
            Assert.Equal("menu v1\n", await ReadWithoutJournalAsync(image, "/grub.cfg"));

            Assert.Equal(JournalCheckpointOutcome.Written, byFreezing ? Posix.CheckpointJournalByFreezing(mount) : Posix.CheckpointJournal(mount));
            Assert.Equal("menu v2\n", await ReadWithoutJournalAsync(image, "/grub.cfg"));
            Assert.Equal(JournalCheckpointOutcome.Written, new JournalCheckpoint().Checkpoint(Path.Combine(mount, "grub.cfg")));
        }
        finally
        {
            await UnmountAsync(mount);
        }
    }

    [Fact]
    public async Task Filesystems_with_nothing_to_checkpoint_are_told_apart_and_left_alone()
    {
        RequireTools();
        using var directory = new TempDirectory("journal-checkpoint");
        var image = directory.Combine("plain.img");
        await MakeExt4Async(image, seed: null, journal: false);
        var mount = directory.Combine("plain");
        var memory = directory.Combine("tmpfs");
        Directory.CreateDirectory(mount);
        Directory.CreateDirectory(memory);
        await MountAsync(image, mount);
        try
        {
            await _runner.RunAsync(new ToolInvocation("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", memory]) { Package = "mount" });
            try
            {
                Assert.Equal(JournalCheckpointOutcome.NoJournal, Posix.CheckpointJournal(mount));
                Assert.Equal(JournalCheckpointOutcome.NotExt, Posix.CheckpointJournal(memory));
            }
            finally
            {
                await UnmountAsync(memory);
            }
        }
        finally
        {
            await UnmountAsync(mount);
        }

        // The running system's root filesystem is never flushed or frozen, whatever it is.
        Assert.Equal(JournalCheckpointOutcome.RunningRoot, Posix.CheckpointJournal("/"));
        Assert.Equal(JournalCheckpointOutcome.RunningRoot, Posix.CheckpointJournalByFreezing(directory.Path));
        Assert.Throws<HostCallException>(() => Posix.CheckpointJournal(directory.Combine("plain", "missing")));
    }

    private static void RequireTools()
    {
        Requires.Root();
        Requires.Tool("mkfs.ext4", "e2fsprogs");
        Requires.Tool("debugfs", "e2fsprogs");
        Requires.Tool("mount", "mount");
        Requires.Tool("umount", "mount");
    }

    private async Task MakeExt4Async(string image, string? seed, bool journal)
    {
        await using (var file = File.Create(image))
        {
            file.SetLength(32L << 20);
        }

        List<string> arguments = ["-q", "-F", "-O", journal ? "has_journal" : "^has_journal"];
        if (seed is not null)
        {
            arguments.AddRange(["-d", seed]);
        }

        arguments.Add(image);
        await _runner.RunAsync(new ToolInvocation("mkfs.ext4", arguments) { Package = "e2fsprogs" });
    }

    private Task MountAsync(string image, string mount) =>
        _runner.RunAsync(new ToolInvocation("mount", ["-o", "loop", image, mount]) { Package = "mount" });

    private Task UnmountAsync(string mount) =>
        _runner.RunAsync(new ToolInvocation("umount", [mount]) { Package = "mount" });

    private async Task<string> ReadWithoutJournalAsync(string image, string path)
    {
        var result = await _runner.RunAsync(new ToolInvocation("debugfs", ["-R", $"cat {path}", image]) { Package = "e2fsprogs" });
        return result.StandardOutput;
    }
}
