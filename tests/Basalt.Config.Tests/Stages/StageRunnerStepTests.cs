using System.IO.Compression;
using System.Net;
using System.Text;
using Basalt.Config.Stages;
using Basalt.Testing;

namespace Basalt.Config.Tests.Stages;

public sealed class StageRunnerStepTests
{
    private const UnixFileMode Mode600 = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode Mode644 = Mode600 | UnixFileMode.GroupRead | UnixFileMode.OtherRead;
    private const UnixFileMode Mode700 = Mode600 | UnixFileMode.UserExecute;

    [Fact]
    public async Task Files_are_written_decoded_with_mode_and_owner()
    {
        using var h = new StageHarness();
        var gz = Convert.ToBase64String(Gzip("zipped\n"));
        var result = await h.RunStagesAsync("boot", $$"""
        {"boot": [{"files": [
          {"path": "/etc/plain.conf", "content": "plain\n", "permissions": 384, "owner": 1000, "group": 100},
          {"path": "/etc/b64", "content": "{{Convert.ToBase64String("decoded"u8)}}", "encoding": "base64"},
          {"path": "/etc/deep/dir/gz", "content": "{{gz}}", "encoding": "gz+b64", "permissions": "0755"}
        ]}]}
        """);
        Assert.True(result.Succeeded, string.Join("; ", result.Steps.SelectMany(s => s.Errors)));
        Assert.Equal("plain\n", h.Read("/etc/plain.conf"));
        Assert.Equal(Mode600, h.Mode("/etc/plain.conf"));
        Assert.Equal((1000, 100), h.Owner("/etc/plain.conf"));
        Assert.Equal("decoded", h.Read("/etc/b64"));
        Assert.Equal(Mode644, h.Mode("/etc/b64"));
        Assert.Null(h.Owner("/etc/b64"));
        Assert.Equal("zipped\n", h.Read("/etc/deep/dir/gz"));
        Assert.Equal(Mode700 | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute, h.Mode("/etc/deep/dir/gz"));
    }

    [Fact]
    public async Task A_file_owned_by_name_is_resolved_in_the_roots_passwd()
    {
        using var h = new StageHarness();
        h.Write("/etc/passwd", h.Read("/etc/passwd") + "kairos:x:1000:1000::/home/kairos:/bin/sh\n");
        var result = await h.RunStagesAsync("boot", """{"boot": [{"files": [{"path": "/etc/k", "content": "x", "owner_string": "kairos:users"}]}]}""");
        Assert.True(result.Succeeded);
        Assert.Equal((1000, 100), h.Owner("/etc/k"));
    }

    [Fact]
    public async Task Bad_encoded_content_fails_the_step_but_the_rest_runs()
    {
        using var h = new StageHarness();
        var result = await h.RunStagesAsync("boot", """
        {"boot": [
          {"name": "bad", "files": [{"path": "/etc/bad", "content": "%%%", "encoding": "base64"}, {"path": "/etc/good", "content": "ok"}]},
          {"name": "next", "files": [{"path": "/etc/next", "content": "ran"}]}
        ]}
        """);
        Assert.False(result.Succeeded);
        var bad = Assert.Single(result.Failed);
        Assert.Equal("bad", bad.Step);
        Assert.Contains("/etc/bad", bad.Errors[0], StringComparison.Ordinal);
        Assert.False(File.Exists(h.Host("/etc/bad")));
        Assert.Equal("ok", h.Read("/etc/good"));
        Assert.Equal("ran", h.Read("/etc/next"));
    }

    [Fact]
    public async Task A_symlink_in_the_root_never_leads_outside_it()
    {
        using var h = new StageHarness();
        Directory.CreateDirectory(h.Host("/run"));
        File.CreateSymbolicLink(h.Host("/etc/resolv.conf"), "/run/resolv.conf");
        Directory.CreateSymbolicLink(h.Host("/var-link"), "/run");
        var result = await h.RunStagesAsync("network", """
        {"network": [{"dns": {"nameservers": ["10.0.0.1"], "search": ["lan"]}, "files": [{"path": "/var-link/../../../x/f", "content": "in"}]}]}
        """);
        Assert.True(result.Succeeded, string.Join("; ", result.Steps.SelectMany(s => s.Errors)));
        Assert.Equal("search lan\nnameserver 10.0.0.1\n", h.Read("/etc/resolv.conf"));
        Assert.False(new FileInfo(h.Host("/etc/resolv.conf")).LinkTarget is not null);
        Assert.Equal("in", h.Read("/x/f"));
    }

    [Fact]
    public async Task Directories_are_created_or_fixed_up()
    {
        using var h = new StageHarness();
        Directory.CreateDirectory(h.Host("/srv/existing"));
        var result = await h.RunStagesAsync("fs", """
        {"fs": [{"directories": [{"path": "/srv/new/leaf", "permissions": 448, "owner": 7, "group": 8}, {"path": "/srv/existing", "permissions": "0711"}]}]}
        """);
        Assert.True(result.Succeeded);
        Assert.Equal(Mode700, h.Mode("/srv/new/leaf"));
        Assert.Equal((7, 8), h.Owner("/srv/new/leaf"));
        Assert.Equal(Mode700 | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute, h.Mode("/srv/existing"));
    }

    [Fact]
    public async Task Users_are_created_with_hashed_password_group_home_and_keys()
    {
        using var h = new StageHarness();
        var result = await h.RunStagesAsync("boot", """
        {"boot": [{"users": {"kairos": {"passwd": "kairos", "groups": ["sudo", "admin"], "shell": "/bin/bash", "gecos": "Kairos",
                                         "ssh_authorized_keys": ["ssh-ed25519 AAAA k@host"]}}}]}
        """);
        Assert.True(result.Succeeded, string.Join("; ", result.Steps.SelectMany(s => s.Errors)));
        Assert.Contains("kairos:x:1000:1000:Kairos:/home/kairos:/bin/bash\n", h.Read("/etc/passwd"), StringComparison.Ordinal);
        Assert.Contains("kairos:x:1000:\n", h.Read("/etc/group"), StringComparison.Ordinal);
        Assert.Contains("sudo:x:27:kairos\n", h.Read("/etc/group"), StringComparison.Ordinal);
        var shadow = h.Read("/etc/shadow").Split('\n').Single(l => l.StartsWith("kairos:", StringComparison.Ordinal)).Split(':');
        Assert.True(ShaCrypt.Verify("kairos", shadow[1]));
        Assert.Equal(Mode600 | UnixFileMode.GroupRead, h.Mode("/etc/shadow"));
        Assert.True(Directory.Exists(h.Host("/home/kairos")));
        Assert.Equal((1000, 1000), h.Owner("/home/kairos"));
        Assert.Equal("ssh-ed25519 AAAA k@host\n", h.Read("/home/kairos/.ssh/authorized_keys"));
        Assert.Equal(Mode600, h.Mode("/home/kairos/.ssh/authorized_keys"));
        Assert.Equal(Mode700, h.Mode("/home/kairos/.ssh"));
        Assert.Equal((1000, 1000), h.Owner("/home/kairos/.ssh/authorized_keys"));
        Assert.Contains(result.Steps[0].Actions, a => a.Contains("group admin does not exist", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_existing_user_is_modified_and_a_hash_is_kept_as_given()
    {
        using var h = new StageHarness();
        h.Write("/etc/passwd", h.Read("/etc/passwd") + "kairos:x:1000:1000::/home/kairos:/bin/sh\n");
        h.Write("/etc/shadow", h.Read("/etc/shadow") + "kairos:!:19000:1:90:7:::\n");
        const string hash = "$6$saltsalt$YTeBOLnmm3CoeJTzBuijUEtOEWCqrw/nQ8/AeMmON4LGp3k0ZiMjC1OdqzWFUAfDQBvYkOch9BWtQTBcZ1E/p0";
        var result = await h.RunStagesAsync("boot", """{"boot": [{"users": {"kairos": {"passwd": "HASH", "shell": "/bin/zsh", "primary_group": "users", "lock_passwd": true}}}]}""".Replace("HASH", hash, StringComparison.Ordinal));
        Assert.True(result.Succeeded, string.Join("; ", result.Steps.SelectMany(s => s.Errors)));
        Assert.Contains("kairos:x:1000:100::/home/kairos:/bin/zsh\n", h.Read("/etc/passwd"), StringComparison.Ordinal);
        var shadow = h.Read("/etc/shadow").Split('\n').Single(l => l.StartsWith("kairos:", StringComparison.Ordinal)).Split(':');
        Assert.Equal("!" + hash, shadow[1]);
        Assert.Equal(("1", "90"), (shadow[3], shadow[4]));
        Assert.DoesNotContain("kairos:x:1000:\n", h.Read("/etc/group"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_given_uid_and_system_users_are_honoured()
    {
        using var h = new StageHarness();
        var result = await h.RunStagesAsync("boot", """{"boot": [{"users": {"alice": {"uid": 2000}, "svc": {"system": true}}}]}""");
        Assert.True(result.Succeeded);
        var passwd = h.Read("/etc/passwd");
        Assert.Contains("alice:x:2000:2000::/home/alice:/bin/sh\n", passwd, StringComparison.Ordinal);
        Assert.Contains("svc:x:100:101::/home/svc:/bin/sh\n", passwd, StringComparison.Ordinal);
        Assert.False(Directory.Exists(h.Host("/home/svc")));
        Assert.Contains("svc:*:", h.Read("/etc/shadow"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Authorized_keys_are_appended_once_and_need_the_user()
    {
        using var h = new StageHarness();
        h.Write("/root/.ssh/authorized_keys", "ssh-rsa OLD\n");
        var result = await h.RunStagesAsync("boot", """{"boot": [{"authorized_keys": {"root": ["ssh-rsa OLD", "ssh-rsa NEW"], "ghost": ["ssh-rsa X"]}}]}""");
        Assert.Equal("ssh-rsa OLD\nssh-rsa NEW\n", h.Read("/root/.ssh/authorized_keys"));
        var failed = Assert.Single(result.Failed);
        Assert.Contains("user 'ghost' is not in the root's /etc/passwd", failed.Errors[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Github_keys_are_fetched()
    {
        using var http = new HttpClient(new FakeHandler(request => request.RequestUri!.AbsoluteUri == "https://github.com/someone.keys"
            ? new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent("ssh-ed25519 GH1\nssh-ed25519 GH2\n") }
            : new HttpResponseMessage(HttpStatusCode.NotFound)));
        using var h = new StageHarness(http: http);
        var result = await h.RunStagesAsync("network", """{"network": [{"authorized_keys": {"root": ["github:someone"]}}]}""");
        Assert.True(result.Succeeded, string.Join("; ", result.Steps.SelectMany(s => s.Errors)));
        Assert.Equal("ssh-ed25519 GH1\nssh-ed25519 GH2\n", h.Read("/root/.ssh/authorized_keys"));
    }

    [Fact]
    public async Task Hostname_goes_to_etc_hostname_and_hosts_with_a_machine_id_template()
    {
        using var h = new StageHarness();
        var result = await h.RunStagesAsync("initramfs", """{"initramfs": [{"hostname": "kairos-{{ trunc 4 .MachineID }}"}]}""");
        Assert.True(result.Succeeded, string.Join("; ", result.Steps.SelectMany(s => s.Errors)));
        Assert.Equal("kairos-0123\n", h.Read("/etc/hostname"));
        Assert.Equal("127.0.0.1\tlocalhost\n127.0.1.1\tkairos-0123\n::1\tlocalhost ip6-localhost\n", h.Read("/etc/hosts"));
        Assert.Empty(h.Tools.Calls);
    }

    [Fact]
    public async Task Sysctl_and_modules_are_persisted_in_the_root_and_not_applied_live()
    {
        using var h = new StageHarness();
        var result = await h.RunStagesAsync("boot", """
        {"boot": [{"sysctl": {"vm.swappiness": "10", "net.ipv4.ip_forward": 1}, "modules": ["br_netfilter", "nvidia NVreg_X=1"]},
                  {"sysctl": {"vm.swappiness": "5"}, "modules": ["br_netfilter"]}]}
        """);
        Assert.True(result.Succeeded, string.Join("; ", result.Steps.SelectMany(s => s.Errors)));
        Assert.Equal("vm.swappiness = 5\nnet.ipv4.ip_forward = 1\n", h.Read("/etc/sysctl.d/90-basalt.conf"));
        Assert.Equal("br_netfilter\nnvidia\n", h.Read("/etc/modules-load.d/basalt.conf"));
        Assert.Equal("options nvidia NVreg_X=1\n", h.Read("/etc/modprobe.d/basalt.conf"));
        Assert.Empty(h.Tools.Calls);
    }

    [Fact]
    public async Task Sysctl_values_reach_the_running_kernel_through_proc_sys_without_procps()
    {
        using var h = new StageHarness();
        using var kernel = new TempDirectory("proc-sys");
        Directory.CreateDirectory(kernel.Combine("vm"));
        File.WriteAllText(kernel.Combine("vm", "swappiness"), "60\n");
        Directory.CreateDirectory(kernel.Combine("net", "ipv4"));
        File.WriteAllText(kernel.Combine("net", "ipv4", "ip_forward"), "0\n");

        var result = await h.RunStagesAsync(
            "boot",
            """{"boot": [{"sysctl": {"vm.swappiness": "17", "net/ipv4/ip_forward": "1", "no.such.key": "1"}}]}""",
            h.Options() with { KernelParameterDirectory = kernel.Path });

        Assert.Equal("17", File.ReadAllText(kernel.Combine("vm", "swappiness")));
        Assert.Equal("1", File.ReadAllText(kernel.Combine("net", "ipv4", "ip_forward")));
        Assert.Contains("'no.such.key'", Assert.Single(result.Steps[0].Errors), StringComparison.Ordinal);
        Assert.Contains("vm.swappiness = 17\n", h.Read("/etc/sysctl.d/90-basalt.conf"), StringComparison.Ordinal);
        Assert.Empty(h.Tools.Calls);
    }

    [Fact]
    public async Task Systemctl_uses_the_root_and_writes_overrides_but_does_not_start_units()
    {
        using var h = new StageHarness();
        var result = await h.RunStagesAsync("boot", """
        {"boot": [{"systemctl": {"enable": ["k3s"], "disable": ["cron"], "mask": ["apt-daily.timer"], "start": ["k3s"],
                   "overrides": [{"service": "k3s", "content": "[Service]\nLimitNOFILE=1\n"}, {"service": "x.socket", "name": "a", "content": "[Socket]\n"}]}}]}
        """);
        Assert.True(result.Succeeded);
        var root = Path.GetFullPath(h.Root);
        Assert.Equal(
            [$"systemctl --root={root} enable k3s", $"systemctl --root={root} disable cron", $"systemctl --root={root} mask apt-daily.timer"],
            h.Tools.CommandLines);
        Assert.Equal("[Service]\nLimitNOFILE=1\n", h.Read("/etc/systemd/system/k3s.service.d/override-basalt.conf"));
        Assert.Equal("[Socket]\n", h.Read("/etc/systemd/system/x.socket.d/a.conf"));
        Assert.Contains(result.Steps[0].Actions, a => a.StartsWith("not starting k3s", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_failing_systemctl_is_reported_and_the_next_unit_still_runs()
    {
        var tools = new FakeTools { Respond = call => call.Arguments.Contains("broken") ? throw new Basalt.Platform.ToolFailedException(call.CommandLine, 1, "no such unit") : null };
        using var h = new StageHarness(tools);
        var result = await h.RunStagesAsync("boot", """{"boot": [{"systemctl": {"enable": ["broken", "fine"]}}]}""");
        Assert.Contains("no such unit", Assert.Single(result.Failed).Errors[0], StringComparison.Ordinal);
        Assert.Equal(2, tools.Calls.Count);
    }

    [Fact]
    public async Task Environment_and_timesyncd_merge_into_existing_files()
    {
        using var h = new StageHarness();
        h.Write("/etc/environment", "PATH=\"/usr/bin\"\nKEEP=1\n");
        var result = await h.RunStagesAsync("boot", """
        {"boot": [{"environment": {"KEEP": "2", "NEW": "a \"b\" {{ .Values.node.hostname }}"}, "timesyncd": {"NTP": "0.pool.org"}},
                  {"environment_file": "/etc/profile.d/x.env", "environment": {"X": "y"}}]}
        """, h.Options() with { Hostname = "n1" });
        Assert.True(result.Succeeded, string.Join("; ", result.Steps.SelectMany(s => s.Errors)));
        Assert.Equal("PATH=\"/usr/bin\"\nKEEP=\"2\"\nNEW=\"a \\\"b\\\" n1\"\n", h.Read("/etc/environment"));
        Assert.Equal("X=\"y\"\n", h.Read("/etc/profile.d/x.env"));
        Assert.Equal("[Time]\nNTP=0.pool.org\n", h.Read("/etc/systemd/timesyncd.conf.d/10-basalt.conf"));
    }

    [Fact]
    public async Task Downloads_land_in_the_root_with_mode_and_a_failure_is_reported()
    {
        using var http = new HttpClient(new FakeHandler(request => request.RequestUri!.AbsolutePath == "/tool.sh"
            ? new HttpResponseMessage(HttpStatusCode.OK) { Content = new ByteArrayContent("#!/bin/sh\n"u8.ToArray()) }
            : new HttpResponseMessage(HttpStatusCode.NotFound)));
        using var h = new StageHarness(http: http);
        Directory.CreateDirectory(h.Host("/opt"));
        var result = await h.RunStagesAsync("network", """
        {"network": [{"downloads": [{"url": "http://files.test/tool.sh", "path": "/usr/local/bin/tool", "permissions": 493},
                                    {"url": "http://files.test/tool.sh", "path": "/opt"},
                                    {"url": "http://files.test/missing", "path": "/opt/missing"}]}]}
        """);
        Assert.Equal("#!/bin/sh\n", h.Read("/usr/local/bin/tool"));
        Assert.Equal((UnixFileMode)493, h.Mode("/usr/local/bin/tool"));
        Assert.Equal("#!/bin/sh\n", h.Read("/opt/tool.sh"));
        Assert.Contains("404", Assert.Single(result.Failed).Errors.Single(), StringComparison.Ordinal);
        Assert.False(File.Exists(h.Host("/opt/missing")));
    }

    [Fact]
    public async Task Commands_run_in_a_chroot_of_the_root_and_a_failure_does_not_stop_the_next()
    {
        var tools = new FakeTools { ShellExit = command => command.Contains("false", StringComparison.Ordinal) ? 3 : 0 };
        using var h = new StageHarness(tools);
        var result = await h.RunStagesAsync("boot", """{"boot": [{"commands": ["false", "echo {{ .Values.greeting }}"]}]}""",
            h.Options() with { Values = new System.Text.Json.Nodes.JsonObject { ["greeting"] = "hello" } });
        var root = Path.GetFullPath(h.Root);
        Assert.Equal([$"chroot {root} /bin/sh -c false", $"chroot {root} /bin/sh -c 'echo hello'"], tools.CommandLines);
        Assert.Contains("exited 3", Assert.Single(result.Failed).Errors[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task Dry_run_lists_what_would_happen_and_touches_nothing()
    {
        using var h = new StageHarness();
        var before = Directory.GetFileSystemEntries(h.Root, "*", SearchOption.AllDirectories).Order().ToArray();
        var passwd = h.Read("/etc/passwd");
        var result = await h.RunStagesAsync("boot", """
        {"boot": [{"if": "test -e /nope", "commands": ["rm -rf /"], "files": [{"path": "/etc/x", "content": "x"}], "users": {"bob": {"passwd": "b", "ssh_authorized_keys": ["ssh-rsa K"]}},
                   "hostname": "h", "sysctl": {"a.b": "1"}, "modules": ["m"], "systemctl": {"enable": ["u"], "overrides": [{"service": "s", "content": "c"}]},
                   "environment": {"A": "1"}, "timesyncd": {"NTP": "x"}, "dns": {"nameservers": ["1.1.1.1"]}, "directories": [{"path": "/d"}]}]}
        """, h.Options(dryRun: true));
        Assert.True(result.Succeeded, string.Join("; ", result.Steps.SelectMany(s => s.Errors)));
        var step = Assert.Single(result.Steps);
        Assert.Equal(StepStatus.Planned, step.Status);
        Assert.Equal("only if 'test -e /nope' succeeds (not tested in a dry run)", step.Actions[0]);
        Assert.Contains(step.Actions, a => a.Contains("rm -rf /", StringComparison.Ordinal));
        Assert.Contains(step.Actions, a => a.StartsWith("create user bob", StringComparison.Ordinal));
        Assert.Contains(step.Actions, a => a.StartsWith("authorize 1 key(s) in /home/bob/.ssh/authorized_keys", StringComparison.Ordinal));
        Assert.Empty(h.Tools.Calls);
        Assert.Equal(before, Directory.GetFileSystemEntries(h.Root, "*", SearchOption.AllDirectories).Order().ToArray());
        Assert.Equal(passwd, h.Read("/etc/passwd"));
    }

    private static byte[] Gzip(string text)
    {
        using var output = new MemoryStream();
        using (var gzip = new GZipStream(output, CompressionLevel.Fastest))
        {
            gzip.Write(Encoding.UTF8.GetBytes(text));
        }

        return output.ToArray();
    }
}

internal sealed class FakeHandler(Func<HttpRequestMessage, HttpResponseMessage> respond) : HttpMessageHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
        Task.FromResult(respond(request));
}
