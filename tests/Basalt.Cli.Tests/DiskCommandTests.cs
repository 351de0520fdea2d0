using System.Text.Json;
using Basalt.Boot.Grub;
using Basalt.Build.Artifacts;
using Basalt.Cli;
using Basalt.Testing;

namespace Basalt.Cli.Tests;

public sealed class DiskCommandTests : IDisposable
{
    private readonly TempDirectory _temp = new("cli-disk");

    public void Dispose() => _temp.Dispose();

    private string Tree(bool kernel = true)
    {
        var root = _temp.Combine("rootfs");
        Directory.CreateDirectory(Path.Combine(root, "boot"));
        if (kernel)
        {
            File.WriteAllText(Path.Combine(root, "boot", "vmlinuz"), "kernel");
        }

        File.WriteAllText(Path.Combine(root, "boot", "initrd"), "initrd");
        return root;
    }

    [Fact]
    public async Task Build_disk_dry_run_prints_the_plan_and_writes_nothing()
    {
        var output = _temp.Combine("disk.raw");

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "build", "disk", "--root", Tree(), "-o", output, "--dry-run");

        Assert.True(run.ExitCode == 0, run.Stderr);
        Assert.Contains("COS_STATE", run.Stdout);
        Assert.Contains("/cOS/active.img, /cOS/passive.img", run.Stdout);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task Build_disk_dry_run_as_json_lists_the_five_partitions()
    {
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "build", "disk", "--root", Tree(), "-o", _temp.Combine("disk.raw"), "--dry-run", "--size", "4G", "--output", "json");

        Assert.True(run.ExitCode == 0, run.Stderr);
        using var document = JsonDocument.Parse(run.Stdout);
        Assert.Equal(4L * 1024 * 1024 * 1024, document.RootElement.GetProperty("diskBytes").GetInt64());
        Assert.Equal(5, document.RootElement.GetProperty("partitions").GetArrayLength());
        Assert.True(document.RootElement.GetProperty("dryRun").GetBoolean());
    }

    [Fact]
    public async Task Build_disk_of_a_tree_without_a_kernel_fails_clearly_before_writing()
    {
        var output = _temp.Combine("disk.raw");

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "build", "disk", "--root", Tree(kernel: false), "-o", output);

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("the image has no kernel", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.False(File.Exists(output));
    }

    [Fact]
    public async Task Build_disk_with_a_size_too_small_names_the_minimum()
    {
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "build", "disk", "--root", Tree(), "-o", _temp.Combine("disk.raw"), "--size", "100M");

        Assert.Equal(1, run.ExitCode);
        Assert.Contains("too small", run.Stderr);
        Assert.Contains("--size", run.Stderr);
    }

    [Theory]
    [InlineData("disk", "node.raw")]
    [InlineData("iso", "node.iso")]
    [InlineData("netboot", "netboot")]
    public async Task An_image_that_cannot_be_unpacked_fails_the_build_and_leaves_nothing_beside_the_output(string artifact, string name)
    {
        var outputDirectory = _temp.Combine("out-" + artifact);
        Directory.CreateDirectory(outputDirectory);
        var missing = "oci-layout:" + _temp.Combine("no-such-layout") + ":v1";

        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "build", artifact, missing, "-o", Path.Combine(outputDirectory, name));

        Assert.NotEqual(0, run.ExitCode);
        Assert.Empty(Directory.EnumerateFileSystemEntries(outputDirectory));
    }

    [Fact]
    public async Task Build_disk_needs_exactly_one_source()
    {
        var neither = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "build", "disk", "-o", _temp.Combine("disk.raw"));
        var both = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "build", "disk", "oci-layout:/x:1", "--root", Tree(), "-o", _temp.Combine("disk.raw"));

        Assert.Equal(2, neither.ExitCode);
        Assert.Equal(2, both.ExitCode);
    }

    [Fact]
    public async Task Bootentry_refuses_an_entry_the_menu_does_not_have()
    {
        var run = await CliRunner.RunAsync(BasaltApp.CreateDefault(), "bootentry", "--disk", _temp.Combine("disk.raw"), "--select", "passive");

        Assert.Equal(2, run.ExitCode);
        Assert.Contains(GrubMenu.PassiveEntry, run.Stderr);
        Assert.Contains(GrubMenu.PassiveEntry, BootEntrySelector.Entries);
    }
}
