using Basalt.Agent.Install;
using Basalt.Agent.Slots;
using Basalt.Testing;

namespace Basalt.Agent.Tests.Install;

public sealed class InstallSlotsTests : IDisposable
{
    private static readonly DateTimeOffset WrittenAt = new(2026, 11, 22, 9, 0, 0, TimeSpan.Zero);

    private readonly TempDirectory _temp = new("install-slots");

    public void Dispose() => _temp.Dispose();

    /// <summary>A tree whose /etc/os-release is an absolute link to /usr/lib/os-release, as Debian ships it.</summary>
    private string Tree(string? osRelease)
    {
        var root = _temp.Combine("tree");
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        Directory.CreateDirectory(Path.Combine(root, "usr", "lib"));
        if (osRelease is not null)
        {
            File.WriteAllText(Path.Combine(root, "usr", "lib", "os-release"), osRelease);
            File.CreateSymbolicLink(Path.Combine(root, "etc", "os-release"), "/usr/lib/os-release");
        }

        return root;
    }

    [Fact]
    public void Installing_the_running_live_system_records_every_slot_under_the_name_and_build_date_its_os_release_gives()
    {
        var tree = Tree("ID=debian\nBASALT_VERSION=1.0\nBASALT_IMAGE_REF=\"registry.example/basalt/os:v1\"\nBASALT_BUILD_DATE=2026-11-01T08:30:00Z\n");

        var table = InstallSlots.Describe(InstallSource.RunningSystem, tree, WrittenAt);

        Assert.Equal(SlotNames.All, table.Slots.Select(s => s.Slot));
        Assert.All(table.Slots, slot =>
        {
            Assert.Equal("registry.example/basalt/os:v1", slot.ImageReference);
            Assert.Equal(new DateTimeOffset(2026, 11, 1, 8, 30, 0, TimeSpan.Zero), slot.BuildDate);
            Assert.Null(slot.Digest);
            Assert.Equal(WrittenAt, slot.WrittenAt);
        });
        // What the node reads back is what was written.
        var path = _temp.Combine("slots.json");
        File.WriteAllBytes(path, SlotStore.Serialize(table));
        Assert.Equal(table.Slots, new SlotStore(path).Read().Slots);
    }

    [Fact]
    public void An_image_source_keeps_the_reference_asked_for_and_a_tree_without_a_name_is_named_after_its_source()
    {
        var tree = Tree("ID=debian\nBASALT_IMAGE_REF=local/basalt:dev\n");
        var image = InstallSource.Parse("oci:registry.example/basalt/os:v2");

        Assert.All(InstallSlots.Describe(image, tree, WrittenAt).Slots, slot => Assert.Equal(image.Text, slot.ImageReference));

        Directory.Delete(tree, recursive: true);
        var anonymous = Tree(osRelease: null);
        var directory = InstallSource.Parse("dir:" + anonymous);
        var table = InstallSlots.Describe(directory, anonymous, WrittenAt);
        Assert.Equal(3, table.Slots.Count);
        Assert.All(table.Slots, slot =>
        {
            Assert.Equal(directory.Text, slot.ImageReference);
            Assert.Null(slot.BuildDate);
        });
    }

    [Fact]
    public void Installing_from_a_live_medium_that_names_its_image_records_that_image_by_digest()
    {
        var tree = Tree("ID=debian\nBASALT_IMAGE_REF=local/basalt:dev\nBASALT_BUILD_DATE=2026-11-01T08:30:00Z\n");
        const string Digest = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
        var built = new DateTimeOffset(2026, 11, 20, 7, 0, 0, TimeSpan.Zero);
        var medium = _temp.Combine(InstallSlots.MediumFileName);
        File.WriteAllBytes(medium, SlotStore.Serialize(InstallSlots.Describe("registry.example/basalt/os:v3", Digest, built, WrittenAt.AddDays(-1))));

        var table = InstallSlots.Describe(InstallSource.RunningSystem, tree, WrittenAt, medium);

        Assert.Equal(SlotNames.All, table.Slots.Select(s => s.Slot));
        Assert.All(table.Slots, slot => Assert.Equal(new SlotInfo(slot.Slot, "registry.example/basalt/os:v3", Digest, built, WrittenAt), slot));
    }

    [Fact]
    public void A_medium_slots_file_that_cannot_be_read_leaves_the_slots_named_by_os_release()
    {
        var tree = Tree("ID=debian\nBASALT_IMAGE_REF=local/basalt:dev\n");
        var medium = _temp.Combine(InstallSlots.MediumFileName);
        File.WriteAllText(medium, "not json");

        var table = InstallSlots.Describe(InstallSource.RunningSystem, tree, WrittenAt, medium);

        Assert.All(table.Slots, slot =>
        {
            Assert.Equal("local/basalt:dev", slot.ImageReference);
            Assert.Null(slot.Digest);
        });
        // Only the running system is described by its medium: a directory source is what it is.
        var directory = InstallSource.Parse("dir:" + tree);
        File.WriteAllBytes(medium, SlotStore.Serialize(InstallSlots.Describe("registry.example/basalt/os:v3", "sha256:" + new string('2', 64), null, WrittenAt)));
        Assert.All(InstallSlots.Describe(directory, tree, WrittenAt, medium).Slots, slot => Assert.Null(slot.Digest));
    }
}
