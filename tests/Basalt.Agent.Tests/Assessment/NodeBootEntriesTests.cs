using Basalt.Agent.Assessment;
using Basalt.Boot.Grub;
using Basalt.Testing;

namespace Basalt.Agent.Tests.Assessment;

public sealed class NodeBootEntriesTests
{
    [Fact]
    public void Selecting_an_entry_sets_a_one_shot_next_entry_and_keeps_the_other_variables()
    {
        using var node = new TestNode().WithGrubenv((GrubEnvironmentKeys.ExtraCmdline, "quiet"), (GrubEnvironmentKeys.ActiveTriesLeft, "2"));

        var listing = new NodeBootEntries(node.Paths).SelectNext(GrubMenu.RecoveryEntry);

        Assert.Equal(GrubMenu.RecoveryEntry, listing.NextEntry);
        Assert.Equal(GrubMenu.RecoveryEntry, listing.NextBootEntry);
        var after = node.Grubenv;
        Assert.Equal("recovery", after.Get(GrubEnvironmentKeys.NextEntry));
        Assert.Equal("quiet", after.Get(GrubEnvironmentKeys.ExtraCmdline));
        Assert.Equal("2", after.Get(GrubEnvironmentKeys.ActiveTriesLeft));
    }

    [Fact]
    public void The_choice_is_checkpointed_on_its_partition_so_GRUB_finds_it_after_a_power_cut()
    {
        using var node = new TestNode().WithGrubenv();
        var checkpoint = new RecordingJournalCheckpoint();

        new NodeBootEntries(node.Paths, checkpoint).SelectNext(GrubMenu.RecoveryEntry);

        Assert.Equal([Path.GetDirectoryName(Path.GetFullPath(node.Paths.GrubEnvironment))!], checkpoint.Paths);
    }

    [Fact]
    public void An_unknown_entry_is_refused_and_changes_nothing()
    {
        using var node = new TestNode().WithGrubenv();
        var before = File.ReadAllBytes(node.Paths.GrubEnvironment);

        var error = Assert.Throws<UnknownNodeBootEntryException>(() => new NodeBootEntries(node.Paths).SelectNext("windows"));

        Assert.Contains("fallback", error.Hint, StringComparison.Ordinal);
        Assert.Equal(before, File.ReadAllBytes(node.Paths.GrubEnvironment));
    }

    [Fact]
    public void The_listing_says_which_entry_the_next_boot_really_uses()
    {
        using var node = new TestNode().WithGrubenv((GrubEnvironmentKeys.ActiveTriesLeft, "0"));

        var listing = new NodeBootEntries(node.Paths).List();

        Assert.Equal(["cos", "fallback", "recovery", "statereset"], listing.Entries);
        Assert.Null(listing.NextEntry);
        Assert.Equal("cos", listing.DefaultEntry);
        Assert.Equal("fallback", listing.NextBootEntry);
    }
}
