using System.Text.Json.Nodes;
using Basalt.Config.Stages;

namespace Basalt.Config.Tests.Stages;

public sealed class StageRunnerFlowTests
{
    [Fact]
    public async Task Running_a_boot_stage_runs_before_itself_and_after_over_every_source_in_order()
    {
        using var h = new StageHarness();
        StageSource Source(string name, string json) => StageSource.FromStages(name, JsonNode.Parse(json));
        var result = await h.Runner.RunAsync("boot",
        [
            Source("a.yaml", """{"boot.after": [{"name": "a-after"}], "boot": [{"name": "a-boot"}], "boot.before": [{"name": "a-before"}], "network": [{"name": "not-me"}]}"""),
            Source("b.yaml", """{"boot": [{"name": "b-boot"}], "boot.before": [{"name": "b-before"}]}"""),
        ], h.Options());
        Assert.Equal(["a-before", "b-before", "a-boot", "b-boot", "a-after"], result.Steps.Select(s => s.Step));
        Assert.Equal(["a.yaml", "b.yaml", "a.yaml", "b.yaml", "a.yaml"], result.Steps.Select(s => s.Source));
        Assert.Equal(["boot.before", "boot.before", "boot", "boot", "boot.after"], result.Steps.Select(s => s.Stage));
    }

    [Fact]
    public async Task An_invalid_source_is_reported_and_the_others_still_run()
    {
        using var h = new StageHarness();
        var result = await h.Runner.RunAsync("boot",
        [
            StageSource.FromStages("bad.yaml", JsonNode.Parse("""{"boot": [{"files": [{"content": "no path"}]}]}""")),
            StageSource.FromStages("good.yaml", JsonNode.Parse("""{"boot": [{"files": [{"path": "/etc/good", "content": "x"}]}]}""")),
        ], h.Options());
        Assert.False(result.Succeeded);
        Assert.Contains("bad.yaml", Assert.Single(result.SourceErrors), StringComparison.Ordinal);
        Assert.Equal("x", h.Read("/etc/good"));
    }

    [Fact]
    public void After_reorders_steps_and_the_rest_keep_file_order()
    {
        static StageStep Step(string name, params string[] after) => new() { Name = name, After = after };
        var order = StageRunner.Order([Step("a", "c"), Step("b"), Step("c"), Step("d")]);
        Assert.Equal(["b", "c", "a", "d"], order.Select(o => o.Step.Name));
        Assert.All(order, o => Assert.Null(o.Blocked));
    }

    [Fact]
    public void Unknown_dependencies_and_cycles_are_reported_not_run_out_of_order()
    {
        static StageStep Step(string name, params string[] after) => new() { Name = name, After = after };
        var unknown = StageRunner.Order([Step("a", "ghost"), Step("b")]);
        Assert.Contains("'ghost'", unknown.Single(o => o.Step.Name == "a").Blocked, StringComparison.Ordinal);
        var cycle = StageRunner.Order([Step("a", "b"), Step("b", "a"), Step("c", "a")]);
        Assert.All(cycle, o => Assert.Contains("cycle", o.Blocked, StringComparison.Ordinal));
    }

    [Fact]
    public async Task After_is_honoured_when_running()
    {
        using var h = new StageHarness();
        var result = await h.RunStagesAsync("fs", """{"fs": [{"name": "second", "after": [{"name": "first"}]}, {"name": "first"}]}""");
        Assert.Equal(["first", "second"], result.Steps.Select(s => s.Step));
    }

    [Theory]
    [InlineData("""{"only_os": "debian"}""", true)]
    [InlineData("""{"only_os": "ubuntu|fedora"}""", false)]
    [InlineData("""{"only_os": "^(?!ubuntu).*"}""", true)]
    [InlineData("""{"only_os_version": "^12$"}""", true)]
    [InlineData("""{"only_arch": "amd64"}""", true)]
    [InlineData("""{"only_arch": "arm64"}""", false)]
    [InlineData("""{"node": "^edge-"}""", false)]
    [InlineData("""{"if_files": {"all": ["/etc/os-release", "/etc/hosts"]}}""", true)]
    [InlineData("""{"if_files": {"all": ["/etc/os-release", "/missing"]}}""", false)]
    [InlineData("""{"if_files": {"any": ["/missing", "/etc/hosts"]}}""", true)]
    [InlineData("""{"if_files": {"any": ["/missing"]}}""", false)]
    [InlineData("""{"if_files": {"none": ["/missing"]}}""", true)]
    [InlineData("""{"if_files": {"none": ["/etc/hosts"]}}""", false)]
    [InlineData("""{"if": "[ -e /run/marker ]"}""", false)]
    [InlineData("""{"if": "true"}""", true)]
    public async Task Conditions_decide_whether_a_step_runs(string conditions, bool runs)
    {
        var tools = new FakeTools { ShellExit = command => command == "true" ? 0 : 1 };
        using var h = new StageHarness(tools);
        var step = JsonNode.Parse(conditions)!.AsObject();
        step["files"] = JsonNode.Parse("""[{"path": "/etc/ran", "content": "yes"}]""");
        var result = await h.RunStagesAsync("boot", new JsonObject { ["boot"] = new JsonArray(step) }.ToJsonString(), h.Options() with { Hostname = "core-1" });
        var outcome = Assert.Single(result.Steps);
        Assert.Equal(runs ? StepStatus.Applied : StepStatus.Skipped, outcome.Status);
        Assert.Equal(runs, File.Exists(h.Host("/etc/ran")));
        Assert.True(result.Succeeded);
        if (!runs)
        {
            Assert.False(string.IsNullOrEmpty(outcome.SkipReason));
        }
    }

    [Fact]
    public async Task The_if_test_runs_in_a_chroot_of_the_root()
    {
        var tools = new FakeTools();
        using var h = new StageHarness(tools);
        await h.RunStagesAsync("boot", """{"boot": [{"if": "[ -f /etc/x ]"}]}""");
        Assert.Equal($"chroot {Path.GetFullPath(h.Root)} /bin/sh -c '[ -f /etc/x ]'", Assert.Single(tools.CommandLines));
    }

    [Fact]
    public async Task A_bad_only_os_regex_fails_the_step_clearly()
    {
        using var h = new StageHarness();
        var result = await h.RunStagesAsync("boot", """{"boot": [{"only_os": "("}]}""");
        Assert.StartsWith("condition:", Assert.Single(Assert.Single(result.Failed).Errors), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_template_in_a_command_fails_the_step_with_the_reason()
    {
        using var h = new StageHarness();
        var result = await h.RunStagesAsync("boot", """{"boot": [{"commands": ["echo {{ range .Values }}x{{ end }}"]}]}""");
        Assert.Contains("unsupported template syntax or function 'range'", Assert.Single(Assert.Single(result.Failed).Errors), StringComparison.Ordinal);
        Assert.Empty(h.Tools.Calls);
    }

    [Fact]
    public async Task File_content_with_templates_of_its_own_is_written_as_given_with_a_note()
    {
        using var h = new StageHarness();
        const string chart = "name: {{ .Release.Name }}\nhost: {{ .Values.node.hostname }}\n";
        var result = await h.RunStagesAsync("boot", """{"boot": [{"files": [{"path": "/etc/chart.yaml", "content": "CHART"}, {"path": "/etc/ok", "content": "{{ .Values.os.vendor }}"}]}]}""".Replace("CHART", chart.Replace("\n", "\\n", StringComparison.Ordinal), StringComparison.Ordinal));
        Assert.True(result.Succeeded);
        Assert.Equal(chart, h.Read("/etc/chart.yaml"));
        Assert.Equal("debian", h.Read("/etc/ok"));
        Assert.Contains(result.Steps[0].Actions, a => a.Contains("not rendered (no value for '.Release.Name')", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Lifecycle_stages_run_only_themselves()
    {
        using var h = new StageHarness();
        var result = await h.RunStagesAsync("after-install", """{"after-install": [{"name": "x"}], "after-install-chroot": [{"name": "y"}]}""");
        Assert.Equal(["x"], result.Steps.Select(s => s.Step));
    }
}

public sealed class StageTemplateTests
{
    private static readonly TemplateData Data = new(
        JsonNode.Parse("""{"k3s": {"token": "abc"}, "n": 5}""")!.AsObject(),
        () => "0123456789abcdef0123456789abcdef",
        new Dictionary<string, string> { ["node.hostname"] = "edge-1", ["os.vendor"] = "debian" });

    [Theory]
    [InlineData("plain text", "plain text")]
    [InlineData("t={{ .Values.k3s.token }}", "t=abc")]
    [InlineData("{{.Values.n}}", "5")]
    [InlineData("{{ .Values.node.hostname }}/{{ .Values.os.vendor }}", "edge-1/debian")]
    [InlineData("id-{{ trunc 4 .MachineID }}", "id-0123")]
    [InlineData("{{ .MachineID | trunc -4 | upper }}", "CDEF")]
    [InlineData("{{ .Values.node.machineid }}", "0123456789abcdef0123456789abcdef")]
    [InlineData("a  {{- .Values.n -}}  b", "a5b")]
    [InlineData("{{ default \"x\" .Values.k3s.token }}", "abc")]
    [InlineData("{{ lower \"ABC\" }}", "abc")]
    public void Supported_templates_render(string template, string expected)
    {
        Assert.Equal(expected, StageTemplate.Render(template, Data));
    }

    [Fact]
    public void Random_uuid_and_protected_id_have_their_shapes()
    {
        Assert.Matches("^[A-Za-z0-9]{32}$", StageTemplate.Render("{{ .Random }}", Data));
        Assert.True(Guid.TryParse(StageTemplate.Render("{{ .UUID }}", Data), out _));
        // HMAC-SHA256(key: machine id, message: "yip"), as github.com/denisbrodbeck/machineid computes it.
        var expected = Convert.ToHexStringLower(System.Security.Cryptography.HMACSHA256.HashData("0123456789abcdef0123456789abcdef"u8, "yip"u8));
        Assert.Equal(expected, StageTemplate.Render("{{ .Values.ProtectedID }}", Data));
    }

    [Theory]
    [InlineData("{{ .Values.missing }}", "no value for '.Values.missing'")]
    [InlineData("{{ if .Values.n }}x{{ end }}", "'if'")]
    [InlineData("{{ $x := 1 }}", "'$x'")]
    [InlineData("{{ .Values.n ", "never closed")]
    [InlineData("{{ trunc 4 }}", "wrong number of arguments")]
    [InlineData("{{ }}", "empty action")]
    public void Unsupported_templates_say_why(string template, string problem)
    {
        var error = Assert.Throws<StageTemplateException>(() => StageTemplate.Render(template, Data));
        Assert.Contains(problem, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_machine_id_that_is_not_there_is_a_clear_error()
    {
        var data = new TemplateData(null, () => null, new Dictionary<string, string>());
        Assert.Contains("machine-id", Assert.Throws<StageTemplateException>(() => StageTemplate.Render("{{ .MachineID }}", data)).Message, StringComparison.Ordinal);
    }
}

public sealed class RootPathTests
{
    [Fact]
    public void Absolute_links_and_dot_dot_stay_inside_the_root()
    {
        using var root = new Basalt.Testing.TempDirectory("rootpath");
        Directory.CreateDirectory(root.Combine("run", "sub"));
        Directory.CreateDirectory(root.Combine("var"));
        Directory.CreateSymbolicLink(root.Combine("var", "run"), "/run");
        Directory.CreateSymbolicLink(root.Combine("up"), "../../../../..");
        Assert.Equal(root.Path + "/run/sub/f", RootPath.Resolve(root.Path, "/var/run/sub/f"));
        Assert.Equal(root.Path + "/etc/passwd", RootPath.Resolve(root.Path, "/../../etc/passwd"));
        Assert.Equal(root.Path + "/etc", RootPath.Resolve(root.Path, "/up/etc"));
        Assert.Equal(root.Path + "/var/run", RootPath.Resolve(root.Path, "/var/run"));
        Assert.Equal(root.Path + "/run", RootPath.Resolve(root.Path, "/var/run", followLast: true));
        Assert.Equal("/etc/x", RootPath.Resolve("/", "etc/x"));
    }

    [Fact]
    public void A_link_loop_is_an_error()
    {
        using var root = new Basalt.Testing.TempDirectory("rootpath");
        File.CreateSymbolicLink(root.Combine("a"), "/b");
        File.CreateSymbolicLink(root.Combine("b"), "/a");
        Assert.Throws<StageStepException>(() => RootPath.Resolve(root.Path, "/a/x"));
    }
}
