using System.Text.Json.Nodes;
using Basalt.Config.Collection;

namespace Basalt.Config.Tests.Collection;

public sealed class KernelCommandLineTests
{
    [Fact]
    public void Dot_notation_sets_nested_keys_and_kernel_tokens_are_left_alone()
    {
        var document = KernelCommandLine.Parse("BOOT_IMAGE=/vmlinuz root=LABEL=COS_ACTIVE rd.cos.oemlabel=COS_OEM console=ttyS0 install.device=/dev/vda install.auto=true install.partitions.oem.size=64 hostname=\"my box\"");
        Assert.Equal("""{"install":{"device":"/dev/vda","auto":true,"partitions":{"oem":{"size":"64"}}},"hostname":"my box"}""", document.Root.ToJsonString());
        Assert.Empty(document.Warnings);
    }

    [Fact]
    public void List_indices_build_stages()
    {
        var document = KernelCommandLine.Parse("stages.boot[0].name=hello stages.boot[0].commands[0]=\"echo hi\" stages.boot[0].commands[1]=true");
        Assert.Equal("""{"stages":{"boot":[{"name":"hello","commands":["echo hi",true]}]}}""", document.Root.ToJsonString());
    }

    [Fact]
    public void Config_url_and_kairos_stanzas_are_understood()
    {
        var document = KernelCommandLine.Parse("kairos.config_url=http://10.0.2.2/a.yaml kairos.config=k3s.enabled=true kairos.config= kairos.config=\"hostname=my box\"");
        Assert.Equal("""{"config_url":"http://10.0.2.2/a.yaml","k3s":{"enabled":true},"hostname":"my box"}""", document.Root.ToJsonString());
    }

    [Fact]
    public void A_bare_key_means_true_and_positions_are_columns()
    {
        var document = KernelCommandLine.Parse("quiet install.auto debug");
        Assert.Equal("""{"install":{"auto":true},"debug":true}""", document.Root.ToJsonString());
        var install = (JsonObject)document.Root["install"]!;
        Assert.Equal(new SourcePosition("cmdline", 1, 7), document.PositionOf(install, "auto"));
    }

    [Fact]
    public void Malformed_config_keys_are_warnings_not_failures()
    {
        var document = KernelCommandLine.Parse("install..device=x stages.boot[9999].name=y hostname=ok");
        Assert.Equal("""{"hostname":"ok"}""", document.Root.ToJsonString());
        Assert.Equal(2, document.Warnings.Count);
        Assert.Contains("larger than 255", document.Warnings[1].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Splitting_follows_shell_quoting()
    {
        var tokens = KernelCommandLine.Split("a=\"b c\" 'd e' f\\ g").ToList();
        Assert.Equal([("a=b c", 1), ("d e", 9), ("f g", 15)], tokens);
    }
}
