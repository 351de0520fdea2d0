using Basalt.Config.Stages;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Config.Tests.Stages;

/// <summary>The runner with the real tool runner, real chroot, real systemctl --root and real lchown.</summary>
[Trait(Tiers.Key, Tiers.Integration)]
public sealed class StageRunnerIntegrationTests
{
    [Fact]
    public async Task Commands_and_if_run_inside_a_chroot_of_the_root()
    {
        Requires.Root();
        Requires.Tool("chroot", "coreutils");
        var busybox = Requires.Tool("busybox", "busybox-static");
        using var root = new TempDirectory("stage-chroot");
        Directory.CreateDirectory(root.Combine("bin"));
        File.Copy(busybox, root.Combine("bin", "busybox"));
        foreach (var applet in new[] { "sh", "echo", "test", "[", "cat" })
        {
            File.CreateSymbolicLink(root.Combine("bin", applet), "busybox");
        }

        Directory.CreateDirectory(root.Combine("etc"));
        await File.WriteAllTextAsync(root.Combine("etc", "marker"), "m");
        var runner = new StageRunner(new ToolRunner());
        var result = await runner.RunAsync("boot",
        [
            StageSource.FromStages("t.yaml", System.Text.Json.Nodes.JsonNode.Parse("""
            {"boot": [
              {"name": "runs", "if": "[ -e /etc/marker ]", "commands": ["echo inside > /etc/proof", "exit 4", "echo still > /etc/after"]},
              {"name": "skipped", "if": "[ -e /etc/nothing ]", "commands": ["echo no > /etc/never"]}
            ]}
            """)),
        ], new StageRunOptions { Root = root.Path });

        Assert.Equal("inside\n", await File.ReadAllTextAsync(root.Combine("etc", "proof")));
        Assert.Equal("still\n", await File.ReadAllTextAsync(root.Combine("etc", "after")));
        Assert.False(File.Exists(root.Combine("etc", "never")));
        var failed = Assert.Single(result.Failed);
        Assert.Equal("runs", failed.Step);
        Assert.Contains("exited 4", Assert.Single(failed.Errors), StringComparison.Ordinal);
        Assert.Equal(StepStatus.Skipped, result.Steps.Single(s => s.Step == "skipped").Status);
    }

    [Fact]
    public async Task Systemctl_enable_and_mask_make_the_links_in_the_root()
    {
        Requires.Tool("systemctl", "systemd");
        using var root = new TempDirectory("stage-systemctl");
        Directory.CreateDirectory(root.Combine("etc", "systemd", "system"));
        await File.WriteAllTextAsync(root.Combine("etc", "systemd", "system", "edge.service"),
            "[Unit]\nDescription=edge\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n");
        var runner = new StageRunner(new ToolRunner());
        var result = await runner.RunAsync("boot",
        [
            StageSource.FromStages("t.yaml", System.Text.Json.Nodes.JsonNode.Parse("""{"boot": [{"systemctl": {"enable": ["edge"], "mask": ["apt-daily.timer"]}}]}""")),
        ], new StageRunOptions { Root = root.Path });

        Assert.True(result.Succeeded, string.Join("; ", result.Steps.SelectMany(s => s.Errors)));
        Assert.Equal("/etc/systemd/system/edge.service", new FileInfo(root.Combine("etc", "systemd", "system", "multi-user.target.wants", "edge.service")).LinkTarget);
        Assert.Equal("/dev/null", new FileInfo(root.Combine("etc", "systemd", "system", "apt-daily.timer")).LinkTarget);
    }

    [Fact]
    public async Task Files_users_and_keys_are_really_owned_by_their_user()
    {
        Requires.Root();
        using var root = new TempDirectory("stage-owners");
        Directory.CreateDirectory(root.Combine("etc"));
        await File.WriteAllTextAsync(root.Combine("etc", "passwd"), "root:x:0:0:root:/root:/bin/sh\n");
        await File.WriteAllTextAsync(root.Combine("etc", "group"), "root:x:0:\n");
        var runner = new StageRunner(new ToolRunner());
        var result = await runner.RunAsync("boot",
        [
            StageSource.FromStages("t.yaml", System.Text.Json.Nodes.JsonNode.Parse("""
            {"boot": [{"users": {"kairos": {"passwd": "kairos", "ssh_authorized_keys": ["ssh-ed25519 AAA"]}},
                       "files": [{"path": "/etc/secret", "content": "s", "permissions": 416, "owner": 1000, "group": 1000}]}]}
            """)),
        ], new StageRunOptions { Root = root.Path });

        Assert.True(result.Succeeded, string.Join("; ", result.Steps.SelectMany(s => s.Errors)));
        foreach (var path in new[] { "home/kairos", "home/kairos/.ssh", "home/kairos/.ssh/authorized_keys", "etc/secret" })
        {
            var status = Posix.GetStatus(root.Combine(path));
            Assert.Equal((1000, 1000), (status.UserId, status.GroupId));
        }

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead, Posix.GetStatus(root.Combine("etc", "secret")).Mode & (UnixFileMode)0xFFF);
    }
}
