using System.Text;
using Basalt.Oci.Model;

namespace Basalt.Oci.Layers;

/// <summary>
/// Chain IDs of a layer stack, as the OCI image spec defines them: ChainID(L0) = DiffID(L0) and
/// ChainID(L0..Ln) = sha256(ChainID(L0..Ln-1) + " " + DiffID(Ln)). A chain ID names exactly the tree the layers
/// make when applied in order, so an unpacked tree kept under its chain ID can be reused by any image whose layers
/// start with the same ones.
/// </summary>
public static class LayerChain
{
    /// <summary>The chain ID of every prefix: element <c>i</c> names the tree of layers 0..i.</summary>
    public static IReadOnlyList<Digest> ChainIds(IReadOnlyList<Digest> diffIds)
    {
        ArgumentNullException.ThrowIfNull(diffIds);
        var chains = new List<Digest>(diffIds.Count);
        foreach (var diffId in diffIds)
        {
            chains.Add(chains.Count == 0 ? diffId : Digest.Sha256(Encoding.UTF8.GetBytes($"{chains[^1].Value} {diffId.Value}")));
        }

        return chains;
    }

    /// <summary>The chain ID of the whole stack.</summary>
    public static Digest ChainId(IReadOnlyList<Digest> diffIds)
    {
        ArgumentNullException.ThrowIfNull(diffIds);
        if (diffIds.Count == 0)
        {
            throw new ArgumentException("a layer chain needs at least one layer", nameof(diffIds));
        }

        return ChainIds(diffIds)[^1];
    }

    /// <summary>How many leading layers of <paramref name="diffIds"/> the tree named <paramref name="chainId"/> holds; 0 when it is not a prefix.</summary>
    public static int PrefixLength(IReadOnlyList<Digest> diffIds, Digest chainId)
    {
        var chains = ChainIds(diffIds);
        for (var i = chains.Count - 1; i >= 0; i--)
        {
            if (chains[i] == chainId)
            {
                return i + 1;
            }
        }

        return 0;
    }
}

/// <summary>A tree kept under a chain ID was offered for an image whose layers do not start with that chain.</summary>
public sealed class LayerChainMismatchException : OciException
{
    public LayerChainMismatchException(string image, Digest chainId)
        : base($"the layers of {image} do not start with the chain {chainId}, which the tree to build on holds",
               "unpack the image from scratch instead of onto that tree")
    {
        ChainId = chainId;
    }

    public Digest ChainId { get; }

    public override string Kind => "layer-chain-mismatch";
}
