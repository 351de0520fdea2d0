using System.Text;
using Basalt.Boot.Grub;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Boot.Tests;

[Trait(Tiers.Key, Tiers.Integration)]
public sealed class GrubToolIntegrationTests
{
    private readonly ToolRunner _runner = new();

    [Fact]
    public async Task Generated_scripts_pass_grub_script_check()
    {
        Requires.Tool("grub-script-check", "grub-common");
        using var temp = new TempDirectory("grubcfg");
        var scripts = new Dictionary<string, string>
        {
            ["menu.cfg"] = GrubConfigGenerator.MenuConfig(GrubMenu.Create(GrubMenuOptions.Default)),
            ["efi.cfg"] = GrubConfigGenerator.EfiConfig(GrubMenuOptions.Default),
            ["bootargs.cfg"] = GrubConfigGenerator.BootArgumentsConfig(["quiet", "loglevel=3"]),
        };

        foreach (var (name, content) in scripts)
        {
            var path = temp.Combine(name);
            await File.WriteAllTextAsync(path, content);
            var result = await _runner.RunAsync(new ToolInvocation("grub-script-check", [path]) { Package = "grub-common" });
            Assert.Equal(0, result.ExitCode);
        }
    }

    [Fact]
    public async Task Grub_script_check_catches_a_broken_script()
    {
        // Proves the check above can fail: an unterminated if is rejected.
        Requires.Tool("grub-script-check", "grub-common");
        using var temp = new TempDirectory("grubcfg");
        var path = temp.Combine("broken.cfg");
        await File.WriteAllTextAsync(path, GrubConfigGenerator.MenuConfig(GrubMenu.Create(GrubMenuOptions.Default)).Replace("\nfi\n", "\n", StringComparison.Ordinal));

        await Assert.ThrowsAsync<ToolFailedException>(() => _runner.RunAsync(new ToolInvocation("grub-script-check", [path])));
    }

    [Fact]
    public async Task Grub_editenv_reads_what_basalt_writes()
    {
        Requires.Tool("grub-editenv", "grub-common");
        using var temp = new TempDirectory("grubenv");
        var path = temp.Combine("grubenv");
        var environment = GrubEnvironment.Create();
        environment.Set(GrubEnvironmentKeys.NextEntry, "fallback");
        environment.Set(GrubEnvironmentKeys.ExtraCmdline, "quiet loglevel=3 a\\b");
        environment.Set(GrubEnvironmentKeys.DefaultMenuEntry, "Edge node");
        environment.Save(path);

        var listed = await _runner.RunAsync(new ToolInvocation("grub-editenv", [path, "list"]));

        Assert.Equal("next_entry=fallback\nextra_cmdline=quiet loglevel=3 a\\b\ndefault_menu_entry=Edge node\n", listed.StandardOutput);

        // grub-editenv edits the block Basalt wrote in place and keeps it valid for Basalt.
        await _runner.RunAsync(new ToolInvocation("grub-editenv", [path, "unset", "next_entry"]));
        var back = GrubEnvironment.Load(path);
        Assert.Null(back.Get(GrubEnvironmentKeys.NextEntry));
        Assert.Equal("quiet loglevel=3 a\\b", back.Get(GrubEnvironmentKeys.ExtraCmdline));
    }

    [Fact]
    public async Task Basalt_reads_what_grub_editenv_writes_byte_for_byte()
    {
        Requires.Tool("grub-editenv", "grub-common");
        using var temp = new TempDirectory("grubenv");
        var path = temp.Combine("grubenv");
        await _runner.RunAsync(new ToolInvocation("grub-editenv", [path, "create"]));
        await _runner.RunAsync(new ToolInvocation("grub-editenv", [path, "set", "saved_entry=recovery", "extra_passive_cmdline=nomodeset x=\\y"]));

        var bytes = await File.ReadAllBytesAsync(path);
        var environment = GrubEnvironment.Parse(bytes, path);

        Assert.Equal(1024, bytes.Length);
        Assert.Equal("recovery", environment.Get(GrubEnvironmentKeys.SavedEntry));
        Assert.Equal("nomodeset x=\\y", environment.Get(GrubEnvironmentKeys.ExtraPassiveCmdline));
        // Writing the same variables back yields the very block grub-editenv made.
        Assert.Equal(Encoding.ASCII.GetString(bytes), Encoding.ASCII.GetString(environment.ToBytes()));
    }
}

[Trait(Tiers.Key, Tiers.Integration)]
public sealed class GrubMenuLogicIntegrationTests
{
    /// <summary>
    /// The menu's selection logic (next_entry, saved_entry, counting, fallback chain) uses only
    /// <c>if [ … ]</c> and <c>set</c>, which read the same in POSIX sh; run it there for every row of
    /// the table and compare with <see cref="BootAssessment.Select"/>. (Unset variables read as empty in both.)
    /// </summary>
    [Theory]
    [MemberData(nameof(BootAssessmentTests.Table), MemberType = typeof(BootAssessmentTests))]
    public async Task The_generated_script_decides_like_the_model(string before, string entry, string changes)
    {
        _ = changes;
        Requires.Tool("sh", "dash");
        var menu = GrubConfigGenerator.MenuConfig(GrubMenu.Create(GrubMenuOptions.Default));
        var start = menu.IndexOf("# next_entry is one shot", StringComparison.Ordinal);
        var end = menu.IndexOf("if [ -n \"${default_menu_entry}\" ]", StringComparison.Ordinal);
        var logic = string.Join('\n', menu[start..end].Split('\n').Select(line =>
        {
            var trimmed = line.TrimStart();
            return trimmed.StartsWith("set ", StringComparison.Ordinal) ? trimmed["set ".Length..] : line;
        }));
        var state = BootAssessmentTests.ParseState(before);
        var keys = new[] { "next_entry", "saved_entry", GrubEnvironmentKeys.ActiveTriesLeft, GrubEnvironmentKeys.PassiveTriesLeft, GrubEnvironmentKeys.LastBootEntry, GrubEnvironmentKeys.FallbackReason };
        var script = new System.Text.StringBuilder("save_env() { :; }\nenv_blk=hd0,gpt2\n");
        foreach (var (key, value) in state)
        {
            script.Append(key).Append("='").Append(value).Append("'\n");
        }

        script.Append(logic).Append('\n');
        script.Append("echo \"default=${default}\"\necho \"fallback=${fallback}\"\n");
        foreach (var key in keys)
        {
            script.Append(System.Globalization.CultureInfo.InvariantCulture, $"echo \"{key}=${{{key}}}\"\n");
        }

        using var input = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(script.ToString()));
        var result = await new ToolRunner().RunAsync(new ToolInvocation("sh", ["-e"]) { StandardInput = input });
        var output = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.Split('=', 2)).ToDictionary(p => p[0], p => p[1], StringComparer.Ordinal);

        var model = BootAssessment.Select(state);
        Assert.Equal(entry, output["default"]);
        Assert.Equal(model.Entry, output["default"]);
        foreach (var key in keys)
        {
            Assert.Equal(model.Environment.TryGetValue(key, out var value) ? value : string.Empty, output[key]);
        }

        var expectedFallback = entry switch
        {
            "fallback" => "2",
            "recovery" => string.Empty,
            _ => "1 2",
        };
        Assert.Equal(expectedFallback, output["fallback"]);
    }
}
