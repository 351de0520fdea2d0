using System.Diagnostics;
using Basalt.Config.Collection;
using Basalt.Config.Model;
using Basalt.Config.Yaml;
using Basalt.Testing;

namespace Basalt.Config.Tests;

public sealed class CorpusTests
{
    private static string CorpusDirectory(string kind) => Path.Combine(AppContext.BaseDirectory, "Corpus", kind);

    public static TheoryData<string> Good() => Files("good");

    public static TheoryData<string> Bad() => Files("bad");

    private static TheoryData<string> Files(string kind)
    {
        var data = new TheoryData<string>();
        foreach (var file in Directory.GetFiles(CorpusDirectory(kind), "*.yaml").Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(file));
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Good))]
    public void Good_configs_parse_and_validate_without_findings(string name)
    {
        var document = YamlDocumentLoader.LoadFile(Path.Combine(CorpusDirectory("good"), name));
        var validation = ConfigValidator.Validate(document);
        Assert.True(validation.IsValid(strict: true), string.Join(Environment.NewLine, validation.Issues));
        Assert.NotNull(validation.Config);
    }

    [Fact]
    public async Task The_good_corpus_merges_into_one_config_with_every_part()
    {
        using var root = new TempDirectory();
        var oem = Directory.CreateDirectory(root.Combine("oem")).FullName;
        foreach (var file in Directory.GetFiles(CorpusDirectory("good")))
        {
            File.Copy(file, Path.Combine(oem, Path.GetFileName(file)));
        }

        var merged = await new ConfigCollector().CollectAsync(new ConfigCollectorOptions { Root = root.Path, Strict = true }, CancellationToken.None);

        Assert.Empty(merged.Issues);
        Assert.Equal(7, merged.Sources.Count);
        var config = merged.Config;
        Assert.Equal("auto", config.Install!.Device);
        Assert.True(config.Install.Auto);
        Assert.Equal(64, config.Install.Partitions!.Oem!.Size);
        Assert.Equal(0, config.Install.Partitions.Persistent!.Size);
        Assert.Equal("DATA", Assert.Single(config.Install.ExtraPartitions!).Label);
        Assert.Equal(["/var/lib/longhorn", "/var/lib/my-app"], config.Install.BindMounts);
        Assert.Equal("quiet", config.Install.GrubOptions!["extra_active_cmdline"]);
        Assert.Equal(2, config.Users!.Count);
        Assert.Equal("1500", config.Users[1].Uid);
        Assert.Contains("github:mudler", config.Users[0].SshAuthorizedKeys!);
        Assert.True(config.K3s!.Enabled);
        Assert.True(config.K3sAgent!.Enabled);
        Assert.Equal(2, config.P2p!.Auto!.Ha!.MasterNodes);
        Assert.Equal("console=ttyS0 rd.neednet=1", config.GrubOptions!["extra_cmdline"]);
        Assert.Equal("http://192.168.1.10:8082", config.Kcrypt!.Challenger!.ChallengerServer);
        Assert.Equal(420, config.Stages!["boot"]![0]!["files"]![0]!["permissions"]!.GetValue<long>());
        Assert.Single(merged.StagesBySource);
    }

    [Theory]
    [MemberData(nameof(Bad))]
    public void Bad_configs_give_a_clear_error_with_a_position_quickly(string name)
    {
        var path = Path.Combine(CorpusDirectory("bad"), name);
        var before = GC.GetAllocatedBytesForCurrentThread();
        var watch = Stopwatch.StartNew();
        var issues = LoadAndValidate(path);
        watch.Stop();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Contains(issues, i => i.Severity == ConfigIssueSeverity.Error);
        var error = issues.First(i => i.Severity == ConfigIssueSeverity.Error);
        Assert.Equal(path, error.Position.Source);
        Assert.True(error.Position.Line >= 1, error.ToString());
        Assert.StartsWith($"{path}:{error.Position.Line}:{error.Position.Column}: error:", error.ToString(), StringComparison.Ordinal);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"{name} took {watch.Elapsed}");
        Assert.True(allocated < 64L * 1024 * 1024, $"{name} allocated {allocated} bytes");
    }

    [Fact]
    public void Wrong_types_name_the_line_and_what_was_expected()
    {
        var issues = LoadAndValidate(Path.Combine(CorpusDirectory("bad"), "wrong-types.yaml"));
        Assert.Collection(
            issues,
            i =>
            {
                Assert.Equal(3, i.Position.Line);
                Assert.Equal("$.install.auto", i.Path);
                Assert.Contains("expected true or false, found the string \"maybe\"", i.Message, StringComparison.Ordinal);
            },
            i =>
            {
                Assert.Equal(6, i.Position.Line);
                Assert.Equal(13, i.Position.Column);
                Assert.Contains("expected an integer", i.Message, StringComparison.Ordinal);
            });
    }

    [Fact]
    public void Wrong_shapes_say_a_list_was_expected()
    {
        var issues = LoadAndValidate(Path.Combine(CorpusDirectory("bad"), "wrong-shapes.yaml"));
        Assert.Equal(2, issues.Count);
        Assert.All(issues, i => Assert.Contains("expected a list", i.Message, StringComparison.Ordinal));
        Assert.Equal([3, 5], issues.Select(i => i.Position.Line));
    }

    [Fact]
    public void Ten_thousand_levels_in_a_file_fail_fast_with_a_position()
    {
        using var dir = new TempDirectory();
        var path = dir.Combine("deep.yaml");
        File.WriteAllText(path, "#cloud-config\nstages: " + new string('[', 10_000) + new string(']', 10_000) + "\n");
        var watch = Stopwatch.StartNew();
        var issues = LoadAndValidate(path);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"took {watch.Elapsed}");
        var error = Assert.Single(issues);
        Assert.Equal(2, error.Position.Line);
        Assert.Contains("nesting deeper than 64", error.Message, StringComparison.Ordinal);
    }

    private static List<ConfigIssue> LoadAndValidate(string path)
    {
        var issues = new List<ConfigIssue>();
        new ConfigCollector().ValidateSourceAsync(path, new ConfigCollectorOptions(), issues, CancellationToken.None).GetAwaiter().GetResult();
        return issues;
    }
}
