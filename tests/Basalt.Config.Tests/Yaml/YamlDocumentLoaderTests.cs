using System.Diagnostics;
using System.Text;
using System.Text.Json.Nodes;
using Basalt.Config.Yaml;

namespace Basalt.Config.Tests.Yaml;

public sealed class YamlDocumentLoaderTests
{
    private static ConfigDocument Load(string yaml) => YamlDocumentLoader.Load(yaml, "test.yaml");

    [Fact]
    public void Scalars_resolve_as_go_yaml_v3_reads_them()
    {
        var doc = Load("""
            a: true
            b: False
            c: yes
            d: no
            e: on
            f: ~
            g:
            h: null
            i: 42
            j: 0x1F
            k: 0644
            l: 0o17
            m: 1_000
            n: 3.5
            o: "true"
            p: '12'
            q: .inf
            r: -7
            s: 2021-01-01
            t: !!str 12
            u: 0b101
            v: 1e3
            """);
        var r = doc.Root;
        Assert.True(r["a"]!.GetValue<bool>());
        Assert.False(r["b"]!.GetValue<bool>());
        Assert.Equal("yes", r["c"]!.GetValue<string>());
        Assert.Equal("no", r["d"]!.GetValue<string>());
        Assert.Equal("on", r["e"]!.GetValue<string>());
        Assert.Null(r["f"]);
        Assert.True(r.ContainsKey("g"));
        Assert.Null(r["g"]);
        Assert.Null(r["h"]);
        Assert.Equal(42L, r["i"]!.GetValue<long>());
        Assert.Equal(31L, r["j"]!.GetValue<long>());
        Assert.Equal(420L, r["k"]!.GetValue<long>());
        Assert.Equal(15L, r["l"]!.GetValue<long>());
        Assert.Equal(1000L, r["m"]!.GetValue<long>());
        Assert.Equal(3.5, r["n"]!.GetValue<double>());
        Assert.Equal("true", r["o"]!.GetValue<string>());
        Assert.Equal("12", r["p"]!.GetValue<string>());
        Assert.Equal(".inf", r["q"]!.GetValue<string>());
        Assert.Equal(-7L, r["r"]!.GetValue<long>());
        Assert.Equal("2021-01-01", r["s"]!.GetValue<string>());
        Assert.Equal("12", r["t"]!.GetValue<string>());
        Assert.Equal(5L, r["u"]!.GetValue<long>());
        Assert.Equal(1000.0, r["v"]!.GetValue<double>());
    }

    [Fact]
    public void Every_node_and_entry_has_its_line_and_column()
    {
        var doc = Load("#cloud-config\ninstall:\n  device: /dev/vda\n  auto: true\nusers:\n  - name: kairos\n    passwd:\n");
        var install = (JsonObject)doc.Root["install"]!;
        Assert.Equal(new SourcePosition("test.yaml", 3, 11), doc.PositionOf(install["device"]));
        Assert.Equal(new SourcePosition("test.yaml", 3, 3), doc.KeyPositionOf(install, "device"));
        var user = (JsonObject)doc.Root["users"]![0]!;
        Assert.Equal(6, doc.PositionOf(user).Line);
        Assert.Equal(7, doc.PositionOf(user, "passwd").Line);
        Assert.Equal(6, doc.PositionOf((JsonArray)doc.Root["users"]!, 0).Line);
        Assert.Equal("#cloud-config", doc.Header);
        Assert.Equal("test.yaml:3:11", doc.PositionOf(install["device"]).ToString());
    }

    [Fact]
    public void Anchors_aliases_and_merge_keys_expand_to_copies()
    {
        var doc = Load("""
            base: &base
              fs: ext4
              size: 100
            oem:
              <<: *base
              size: 64
            list: [*base, *base]
            """);
        Assert.Equal("ext4", doc.Root["oem"]!["fs"]!.GetValue<string>());
        Assert.Equal(64L, doc.Root["oem"]!["size"]!.GetValue<long>());
        Assert.Equal(2, doc.Root["list"]!.AsArray().Count);
        Assert.Equal(100L, doc.Root["list"]![1]!["size"]!.GetValue<long>());
    }

    [Fact]
    public void Duplicate_keys_are_an_error_with_both_positions()
    {
        var e = Assert.Throws<ConfigSyntaxException>(() => Load("a: 1\nb: 2\na: 3\n"));
        Assert.Equal(3, e.Position.Line);
        Assert.Contains("duplicate key 'a'", e.Message, StringComparison.Ordinal);
        Assert.Contains("line 1", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Bad_yaml_reports_the_position()
    {
        var e = Assert.Throws<ConfigSyntaxException>(() => Load("a: 1\nb: [1, 2\nc: 3\n"));
        Assert.StartsWith("test.yaml:", e.Message, StringComparison.Ordinal);
        Assert.True(e.Position.Line >= 2);
    }

    [Fact]
    public void A_top_level_scalar_or_list_is_refused()
    {
        Assert.Contains("expected a mapping", Assert.Throws<ConfigSyntaxException>(() => Load("- a\n- b\n")).Message, StringComparison.Ordinal);
        Assert.Contains("expected a mapping", Assert.Throws<ConfigSyntaxException>(() => Load("hello\n")).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Comments_only_give_an_empty_mapping()
    {
        var doc = Load("#cloud-config\n# nothing here\n");
        Assert.Empty(doc.Root);
        Assert.Equal("#cloud-config", doc.Header);
    }

    [Fact]
    public void A_second_document_is_ignored_with_a_warning()
    {
        var doc = Load("a: 1\n---\nb: 2\n");
        Assert.False(doc.Root.ContainsKey("b"));
        var warning = Assert.Single(doc.Warnings);
        Assert.Equal(2, warning.Position.Line);
    }

    [Fact]
    public void A_billion_laughs_fails_fast()
    {
        var yaml = new StringBuilder("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (var i = 1; i < 10; i++)
        {
            yaml.Append(CultureInfo($"l{i}: &l{i} [")).Append(string.Join(", ", Enumerable.Repeat(i == 1 ? "*a" : $"*l{i - 1}", 10))).Append("]\n");
        }

        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<ConfigSyntaxException>(() => Load(yaml.ToString()));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"took {watch.Elapsed}");
        Assert.Contains("YAML bomb", e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Ten_thousand_levels_of_nesting_fail_fast_without_a_stack_overflow(bool flow)
    {
        const int levels = 10_000;
        string yaml;
        if (flow)
        {
            yaml = "a: " + new string('[', levels) + new string(']', levels) + "\n";
        }
        else
        {
            var builder = new StringBuilder();
            for (var i = 0; i < levels; i++)
            {
                builder.Append(' ', i).Append("k:\n");
            }

            yaml = builder.ToString();
        }

        var watch = Stopwatch.StartNew();
        var e = Assert.Throws<ConfigSyntaxException>(() => Load(yaml));
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(2), $"took {watch.Elapsed}");
        Assert.Contains("nesting deeper than 64", e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Non_utf8_bytes_are_refused_with_their_position()
    {
        var bytes = Encoding.UTF8.GetBytes("#cloud-config\nhostname: caf").Concat(new byte[] { 0xE9, 0x0A }).ToArray();
        var e = Assert.Throws<ConfigSyntaxException>(() => YamlDocumentLoader.Load(bytes, "latin1.yaml"));
        Assert.Contains("not valid UTF-8", e.Message, StringComparison.Ordinal);
        Assert.Equal(new SourcePosition("latin1.yaml", 2, 14), e.Position);
    }

    [Fact]
    public void A_utf8_byte_order_mark_is_accepted()
    {
        var bytes = new byte[] { 0xEF, 0xBB, 0xBF }.Concat(Encoding.UTF8.GetBytes("#cloud-config\nhostname: x\n")).ToArray();
        var doc = YamlDocumentLoader.Load(bytes, "bom.yaml");
        Assert.Equal("x", doc.Root["hostname"]!.GetValue<string>());
        Assert.Equal("#cloud-config", doc.Header);
    }

    [Fact]
    public void An_alias_to_an_unknown_anchor_is_an_error()
    {
        Assert.Contains("no anchor", Assert.Throws<ConfigSyntaxException>(() => Load("a: *nope\n")).Message, StringComparison.Ordinal);
    }

    private static string CultureInfo(FormattableString s) => FormattableString.Invariant(s);
}
