using System.Security.Cryptography;
using System.Text;
using Basalt.Oci.Layers;
using Basalt.Oci.Model;

namespace Basalt.Oci.Tests.Layers;

public sealed class LayerChainTests
{
    private static Digest Diff(string seed) => Digest.Sha256(Encoding.UTF8.GetBytes(seed));

    [Fact]
    public void The_chain_of_one_layer_is_its_diff_id_and_each_next_one_hashes_the_previous_chain_a_space_and_the_diff_id()
    {
        Digest[] diffs = [Diff("a"), Diff("b"), Diff("c")];
        // As the OCI image spec writes it: ChainID(L0|L1) = sha256(ChainID(L0) + " " + DiffID(L1)).
        var second = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{diffs[0].Value} {diffs[1].Value}")));
        var third = "sha256:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes($"{second} {diffs[2].Value}")));

        var chains = LayerChain.ChainIds(diffs);

        Assert.Equal([diffs[0].Value, second, third], chains.Select(c => c.Value));
        Assert.Equal(third, LayerChain.ChainId(diffs).Value);
    }

    [Fact]
    public void The_same_layers_in_another_order_make_another_chain()
    {
        Assert.NotEqual(LayerChain.ChainId([Diff("a"), Diff("b")]), LayerChain.ChainId([Diff("b"), Diff("a")]));
    }

    [Fact]
    public void Prefix_length_finds_how_many_leading_layers_a_chain_holds_and_zero_for_a_chain_that_is_no_prefix()
    {
        Digest[] image = [Diff("base"), Diff("app"), Diff("marker")];

        Assert.Equal(1, LayerChain.PrefixLength(image, Diff("base")));
        Assert.Equal(2, LayerChain.PrefixLength(image, LayerChain.ChainId([Diff("base"), Diff("app")])));
        Assert.Equal(3, LayerChain.PrefixLength(image, LayerChain.ChainId(image)));
        Assert.Equal(0, LayerChain.PrefixLength(image, Diff("app")));
        Assert.Equal(0, LayerChain.PrefixLength(image, LayerChain.ChainId([Diff("base"), Diff("other")])));
        Assert.Equal(0, LayerChain.PrefixLength([], Diff("base")));
    }

    [Fact]
    public void An_empty_stack_has_no_chain_id() =>
        Assert.Throws<ArgumentException>(() => LayerChain.ChainId([]));
}
