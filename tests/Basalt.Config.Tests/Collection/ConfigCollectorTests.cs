using System.Net;
using System.Text;
using Basalt.Config.Collection;
using Basalt.Testing;

namespace Basalt.Config.Tests.Collection;

public sealed class ConfigCollectorTests
{
    private static void Write(TempDirectory root, string nodePath, string text)
    {
        var path = Path.Join(root.Path, nodePath.TrimStart('/'));
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllText(path, text);
    }

    private static Task<MergedConfig> Collect(TempDirectory root, FakeHandler? handler = null, string? cmdline = null, bool strict = false, IReadOnlyList<ConfigInput>? inputs = null) =>
        new ConfigCollector(handler).CollectAsync(
            new ConfigCollectorOptions { Root = root.Path, KernelCommandLine = cmdline, Strict = strict, Inputs = inputs ?? [], FetchRetryDelay = TimeSpan.Zero },
            CancellationToken.None);

    [Fact]
    public async Task Directories_are_read_in_kairos_order_recursively_and_lexicographically()
    {
        using var root = new TempDirectory();
        Write(root, "/oem/b.yaml", "#cloud-config\nname: oem-b\n");
        Write(root, "/oem/a/z.yml", "#cloud-config\nname: oem-a-z\n");
        Write(root, "/oem/c.yaml", "#cloud-config\nname: oem-c\n");
        Write(root, "/usr/local/cloud-config/x.yaml", "#cloud-config\nname: local\n");
        Write(root, "/etc/kairos/y.yaml", "#cloud-config\nname: etc\n");
        Write(root, "/run/initramfs/live/z.yaml", "#cloud-config\nname: live\n");

        var merged = await Collect(root);

        Assert.Equal(
            ["/run/initramfs/live/z.yaml", "/etc/kairos/y.yaml", "/usr/local/cloud-config/x.yaml", "/oem/a/z.yml", "/oem/b.yaml", "/oem/c.yaml"],
            merged.Sources);
        Assert.Equal("oem-c", merged.Config.Name);
    }

    [Fact]
    public async Task Header_extension_and_size_rules_decide_which_files_count()
    {
        using var root = new TempDirectory();
        Write(root, "/oem/01-no-header.yaml", "hostname: nope\n");
        Write(root, "/oem/02-late-header.yaml", "# generated\n#\n#node-config\nhostname: late\n");
        Write(root, "/oem/03-kairos.yaml", "#kairos-config\ninstall:\n  device: /dev/vda\n");
        Write(root, "/oem/04-notes.txt", "#cloud-config\nhostname: txt\n");
        Write(root, "/oem/05-big.yaml", "#cloud-config\nhostname: big\n# " + new string('x', 1024 * 1024) + "\n");
        Write(root, "/oem/06-header-too-late.yaml", string.Concat(Enumerable.Repeat("# c\n", 10)) + "#cloud-config\nhostname: too-late\n");

        var merged = await Collect(root);

        Assert.Equal(["/oem/02-late-header.yaml", "/oem/03-kairos.yaml"], merged.Sources);
        Assert.Equal("late", merged.Config.Hostname);
        var big = Assert.Single(merged.Issues);
        Assert.Equal("/oem/05-big.yaml", big.Position.Source);
        Assert.Contains("larger than 1048576 bytes", big.Message, StringComparison.Ordinal);
        Assert.Equal(4, merged.Skipped.Count);
    }

    [Fact]
    public async Task An_invalid_file_is_reported_and_nothing_of_it_is_applied()
    {
        using var root = new TempDirectory();
        Write(root, "/oem/10.yaml", "#cloud-config\nhostname: good\n");
        Write(root, "/oem/20.yaml", "#cloud-config\nhostname: bad\ninstall:\n  auto: maybe\n");
        Write(root, "/oem/30.yaml", "#cloud-config\nusers: [\n");

        var merged = await Collect(root);

        Assert.Equal("good", merged.Config.Hostname);
        Assert.Null(merged.Config.Install);
        Assert.Equal(["/oem/10.yaml"], merged.Sources);
        Assert.Equal(2, merged.Issues.Count(i => i.Severity == ConfigIssueSeverity.Error));
        Assert.Contains(merged.Issues, i => i.Position.Source == "/oem/20.yaml" && i.Position.Line == 4);
    }

    [Fact]
    public async Task Strict_mode_skips_files_with_warnings_too()
    {
        using var root = new TempDirectory();
        Write(root, "/oem/10.yaml", "#cloud-config\nhostname: typo-file\nhostnme: x\n");

        var lenient = await Collect(root);
        Assert.Equal("typo-file", lenient.Config.Hostname);
        Assert.Equal("x", lenient.Config.Extra!["hostnme"]!.GetValue<string>());
        Assert.Contains(lenient.Issues, i => i.Message.Contains("did you mean 'hostname'", StringComparison.Ordinal));

        var strict = await Collect(root, strict: true);
        Assert.Null(strict.Config.Hostname);
        Assert.Empty(strict.Sources);
    }

    [Fact]
    public async Task Inputs_come_after_files_and_the_command_line_last()
    {
        using var root = new TempDirectory();
        Write(root, "/oem/10.yaml", "#cloud-config\nhostname: file\ninstall:\n  device: /dev/sda\n  auto: false\nusers:\n  - name: a\n");

        var merged = await Collect(
            root,
            cmdline: "install.device=/dev/vda install.partitions.oem.size=128",
            inputs: [new ConfigInput("hostname: given\nusers:\n  - name: b\n", "--file given.yaml")]);

        Assert.Equal(["/oem/10.yaml", "--file given.yaml", "cmdline"], merged.Sources);
        Assert.Equal("given", merged.Config.Hostname);
        Assert.Equal("/dev/vda", merged.Config.Install!.Device);
        Assert.Equal(128, merged.Config.Install.Partitions!.Oem!.Size);
        Assert.False(merged.Config.Install.Auto);
        Assert.Equal(["a", "b"], merged.Config.Users!.Select(u => u.Name));
    }

    [Fact]
    public async Task A_command_line_without_config_keys_is_not_a_source()
    {
        using var root = new TempDirectory();
        Write(root, "/oem/10.yaml", "#cloud-config\nhostname: file\n");
        var merged = await Collect(root, cmdline: "BOOT_IMAGE=/vmlinuz root=LABEL=COS_ACTIVE console=ttyS0 rd.immucore.debug");
        Assert.Equal(["/oem/10.yaml"], merged.Sources);
    }

    [Fact]
    public async Task Validating_a_url_reads_it_through_the_handler()
    {
        var handler = new FakeHandler { ["http://h/c.yaml"] = "#cloud-config\ninstall:\n  auto: maybe\n" };
        var issues = new List<ConfigIssue>();
        var validation = await new ConfigCollector(handler).ValidateSourceAsync("http://h/c.yaml", new ConfigCollectorOptions(), issues, CancellationToken.None);
        Assert.NotNull(validation);
        var issue = Assert.Single(issues);
        Assert.Equal("http://h/c.yaml:3:9: error: $.install.auto: expected true or false, found the string \"maybe\"", issue.ToString());
    }

    [Fact]
    public async Task Stages_are_kept_per_source_in_order()
    {
        using var root = new TempDirectory();
        Write(root, "/etc/kairos/a.yaml", "#cloud-config\nstages:\n  boot:\n    - commands: [one]\n");
        Write(root, "/oem/b.yaml", "#cloud-config\nstages:\n  boot:\n    - commands: [two]\n  network:\n    - commands: [three]\n");

        var merged = await Collect(root);

        Assert.Equal(["/etc/kairos/a.yaml", "/oem/b.yaml"], merged.StagesBySource.Select(s => s.Source));
        Assert.Single(merged.StagesBySource[0].Stages["boot"]!.AsArray());
        Assert.Equal(2, merged.Root["stages"]!["boot"]!.AsArray().Count);
    }

    [Fact]
    public async Task Config_url_on_the_command_line_is_fetched_and_followed_recursively()
    {
        using var root = new TempDirectory();
        var handler = new FakeHandler
        {
            ["http://10.0.2.2/a.yaml"] = "#cloud-config\nhostname: from-a\nconfig_url: http://10.0.2.2/b.yaml\nusers:\n  - name: a\n",
            ["http://10.0.2.2/b.yaml"] = "#cloud-config\nhostname: from-b\nusers:\n  - name: b\n",
        };

        var merged = await Collect(root, handler, cmdline: "config_url=http://10.0.2.2/a.yaml");

        Assert.Equal(["cmdline", "http://10.0.2.2/a.yaml", "http://10.0.2.2/b.yaml"], merged.Sources);
        Assert.Equal("from-b", merged.Config.Hostname);
        Assert.Equal(["a", "b"], merged.Config.Users!.Select(u => u.Name));
        Assert.Empty(merged.Issues);
    }

    [Fact]
    public async Task A_config_url_chain_stops_at_the_depth_limit_and_at_loops()
    {
        using var root = new TempDirectory();
        var handler = new FakeHandler();
        for (var i = 0; i < 10; i++)
        {
            handler[$"http://h/{i}.yaml"] = $"#cloud-config\nname: n{i}\nconfig_url: http://h/{i + 1}.yaml\n";
        }

        var deep = await Collect(root, handler, cmdline: "config_url=http://h/0.yaml");
        Assert.Equal(6, deep.Sources.Count);
        Assert.Contains(deep.Issues, i => i.Message.Contains("deeper than 5", StringComparison.Ordinal));

        var loop = new FakeHandler
        {
            ["http://h/x.yaml"] = "#cloud-config\nconfig_url: http://h/y.yaml\n",
            ["http://h/y.yaml"] = "#cloud-config\nconfig_url: http://h/x.yaml\n",
        };
        var looped = await Collect(root, loop, cmdline: "config_url=http://h/x.yaml");
        Assert.Contains(looped.Issues, i => i.Message.Contains("a loop", StringComparison.Ordinal));
        Assert.Equal(2, loop.Requests.Count);
    }

    [Fact]
    public async Task A_failing_or_headerless_config_url_is_a_warning_and_the_rest_applies()
    {
        using var root = new TempDirectory();
        Write(root, "/oem/a.yaml", "#cloud-config\nhostname: local\nconfig_url: http://h/missing.yaml\n");
        Write(root, "/oem/b.yaml", "#cloud-config\nconfig_url: http://h/plain.yaml\n");
        var handler = new FakeHandler { ["http://h/plain.yaml"] = "hostname: plain\n" };

        var merged = await Collect(root, handler);

        Assert.Equal("local", merged.Config.Hostname);
        Assert.Contains(merged.Issues, i => i.Message.Contains("cannot fetch after 3 attempts: HTTP 404", StringComparison.Ordinal) && i.Position.Line == 3);
        Assert.Contains(merged.Issues, i => i.Message.Contains("no #cloud-config header", StringComparison.Ordinal));
        Assert.Equal(3, handler.Requests.Count(r => r.EndsWith("missing.yaml", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task A_slow_config_url_times_out()
    {
        using var root = new TempDirectory();
        var handler = new FakeHandler { Delay = TimeSpan.FromSeconds(30) };
        var merged = await new ConfigCollector(handler).CollectAsync(
            new ConfigCollectorOptions { Root = root.Path, KernelCommandLine = "config_url=http://h/slow.yaml", FetchTimeout = TimeSpan.FromMilliseconds(200), FetchAttempts = 1 },
            CancellationToken.None);
        Assert.Contains(merged.Issues, i => i.Message.Contains("timed out", StringComparison.Ordinal));
    }

    [Fact]
    public void Header_check_looks_at_the_first_ten_lines_only()
    {
        Assert.True(ConfigCollector.HasValidHeader("#cloud-config  \nfoo: 1"));
        Assert.True(ConfigCollector.HasValidHeader("## jinja\n#node-config\n"));
        Assert.False(ConfigCollector.HasValidHeader("#cloud-configuration\n"));
        Assert.False(ConfigCollector.HasValidHeader(" #cloud-config\n"));
        Assert.False(ConfigCollector.HasValidHeader(string.Concat(Enumerable.Repeat("\n", 10)) + "#cloud-config\n"));
    }

    /// <summary>Serves fixed bodies by URL; 404 for anything else.</summary>
    private sealed class FakeHandler : HttpMessageHandler
    {
        private readonly Dictionary<string, string> _bodies = new(StringComparer.Ordinal);

        public List<string> Requests { get; } = [];

        public TimeSpan Delay { get; init; }

        public string this[string url]
        {
            set => _bodies[url] = value;
        }

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var url = request.RequestUri!.ToString();
            lock (Requests)
            {
                Requests.Add(url);
            }

            if (Delay > TimeSpan.Zero)
            {
                await Task.Delay(Delay, cancellationToken);
            }

            return _bodies.TryGetValue(url, out var body)
                ? new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(body, Encoding.UTF8) }
                : new HttpResponseMessage(HttpStatusCode.NotFound);
        }
    }
}
