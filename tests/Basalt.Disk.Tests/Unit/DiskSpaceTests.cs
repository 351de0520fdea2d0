using Basalt.Disk.Assembly;
using Basalt.Testing;

namespace Basalt.Disk.Tests.Unit;

public sealed class DiskSpaceTests
{
    [Fact]
    public void A_work_directory_not_made_yet_is_measured_on_its_nearest_existing_parent()
    {
        using var temp = new TempDirectory("disk-space");
        var notYetMade = temp.Combine("work", "deeper");

        DiskSpace.EnsureAvailable(notYetMade, 1);

        Assert.Equal(temp.Path, DiskSpace.ExistingAncestor(notYetMade));
        Assert.False(Directory.Exists(notYetMade), "checking the space creates nothing");
    }

    [Fact]
    public void A_directory_not_made_yet_still_refuses_when_its_filesystem_is_too_small()
    {
        using var temp = new TempDirectory("disk-space");
        var notYetMade = temp.Combine("work");

        var refused = Assert.Throws<InsufficientSpaceException>(() => DiskSpace.EnsureAvailable(notYetMade, long.MaxValue));

        Assert.Contains(notYetMade, refused.Message, StringComparison.Ordinal);
    }
}
