using System.Text;
using Basalt.Agent.History;
using Basalt.Agent.Journal;
using Basalt.Agent.Node;
using Basalt.Agent.Slots;
using Basalt.Agent.Upgrade;
using Basalt.Boot.Grub;
using Basalt.Oci.Images;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Agent.Tests.Upgrade;

/// <summary>Stands for a power cut in fault-injection tests.</summary>
public sealed class PowerCutException : Exception
{
    public PowerCutException(string message)
        : base(message)
    {
    }
}

/// <summary>
/// A node whose partitions are temp directories and whose slot images are tiny fake ext4 files: a superblock with the
/// ext4 magic and a label, and a payload naming the image. The fake tools make such files (mkfs.ext4) and relabel them
/// (tune2fs), so the lifecycle logic runs without root or real filesystems.
/// </summary>
public sealed class FakeNode : IDisposable
{
    private readonly TempDirectory _temp = new("agent-node");

    public FakeNode()
    {
        Paths = new NodePaths
        {
            StateMount = _temp.Combine("state"),
            RecoveryMount = _temp.Combine("recovery"),
            OemMount = _temp.Combine("oem"),
            PersistentMount = _temp.Combine("persistent"),
        };
        foreach (var directory in new[] { Path.Combine(Paths.StateMount, "cOS"), Paths.RecoveryMount, Paths.OemMount, Paths.AgentDirectory })
        {
            Directory.CreateDirectory(directory);
        }

        GrubEnvironment.Create().Save(Paths.GrubEnvironment);
        WriteImage(Paths.ActiveImage, SlotLabels.Active, "A");
        WriteImage(Paths.PassiveImage, SlotLabels.Passive, "P");
        Slots = new SlotStoreRecords(new SlotStore(Paths.SlotsFile));
        History = new FileLifecycleHistory(Paths.History);
    }

    public NodePaths Paths { get; }

    public FakeTools Tools { get; } = new();

    public FakeProbe Probe { get; } = new();

    public SlotStoreRecords Slots { get; }

    public FileLifecycleHistory History { get; }

    public string Combine(params string[] parts) => _temp.Combine(parts);

    /// <summary>
    /// A dir: source of an image whose <c>etc/version</c> is <paramref name="version"/> (the payload the fake mkfs.ext4
    /// writes) with a GRUB menu, and <paramref name="payloadMebibytes"/> MiB of content that is not zeros.
    /// </summary>
    public string MakeSourceTree(string version, int payloadMebibytes = 0)
    {
        var root = Combine("source-" + version);
        Directory.CreateDirectory(Path.Combine(root, "etc", "cos"));
        File.WriteAllText(Path.Combine(root, "etc", "version"), version);
        File.WriteAllText(Path.Combine(root, "etc", "cos", "grub.cfg"), "# menu of " + version + "\n");
        if (payloadMebibytes > 0)
        {
            var payload = new byte[payloadMebibytes << 20];
            for (var i = 0; i < payload.Length; i++)
            {
                payload[i] = (byte)((i % 251) + 1);
            }

            File.WriteAllBytes(Path.Combine(root, "payload.bin"), payload);
        }

        return "dir:" + root;
    }

    /// <summary>The upgrade service of this node, its images read through <paramref name="registry"/>.</summary>
    public UpgradeService Upgrades(RegistryClient registry, UpgradeServiceOptions? options = null, SwapHooks? hooks = null) => new(
        Paths,
        new ImageService(new BlobStore(Paths.BlobStore), registry),
        Tools,
        Slots,
        History,
        Probe,
        options,
        hooks: hooks);

    public static void WriteImage(string path, string label, string payload)
    {
        var bytes = new byte[8192];
        bytes[1024 + 0x38] = 0x53;
        bytes[1024 + 0x39] = 0xEF;
        Encoding.UTF8.GetBytes(label).CopyTo(bytes, 1024 + 0x78);
        Encoding.UTF8.GetBytes(payload).CopyTo(bytes, 4096);
        File.WriteAllBytes(path, bytes);
    }

    public static string ReadPayload(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var payload = bytes.AsSpan(4096);
        var end = payload.IndexOf((byte)0);
        return Encoding.UTF8.GetString(end < 0 ? payload : payload[..end]);
    }

    public string? Label(string path) => File.Exists(path) ? SlotImageFiles.ReadLabel(path) : null;

    /// <summary>
    /// The power-cut invariant: active.img and passive.img each exist, are whole images with the right label, and hold
    /// one of the images the operation was moving (<paramref name="activeMay"/>, <paramref name="passiveMay"/>).
    /// </summary>
    public void AssertBootable(string[] activeMay, string[] passiveMay)
    {
        Assert.Equal(SlotLabels.Active, Label(Paths.ActiveImage));
        Assert.Equal(SlotLabels.Passive, Label(Paths.PassiveImage));
        Assert.Contains(ReadPayload(Paths.ActiveImage), activeMay);
        Assert.Contains(ReadPayload(Paths.PassiveImage), passiveMay);
    }

    /// <summary>
    /// Dates every blob in the node's store an hour back: long enough ago that no pull beside an upgrade can still be
    /// about to use them, so a trim of the store does not spare them.
    /// </summary>
    public void AgeBlobStore()
    {
        var store = new BlobStore(Paths.BlobStore);
        foreach (var blob in store.List())
        {
            File.SetLastWriteTimeUtc(store.GetPath(blob.Digest), DateTime.UtcNow.AddHours(-1));
        }
    }

    public Dictionary<string, string> GrubVariables() =>
        GrubEnvironment.Load(Paths.GrubEnvironment).Variables.ToDictionary(v => v.Key, v => v.Value);

    public void Dispose() => _temp.Dispose();
}

/// <summary>mkfs.ext4 and tune2fs for fake images; the payload of a made image is the source tree's <c>etc/version</c>.</summary>
public sealed class FakeTools : IToolRunner
{
    public List<string> Calls { get; } = [];

    public HashSet<string> Missing { get; } = [];

    public string? Locate(string tool) => Missing.Contains(tool) ? null : "/usr/sbin/" + tool;

    public Task<ToolResult> RunAsync(ToolInvocation invocation, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(invocation);
        Calls.Add(invocation.CommandLine);
        var arguments = invocation.Arguments;
        switch (invocation.Tool)
        {
            case "mkfs.ext4":
                {
                    var label = arguments[IndexAfter(arguments, "-L")];
                    var source = arguments[IndexAfter(arguments, "-d")];
                    var target = arguments[^2];
                    var versionFile = Path.Combine(source, "etc", "version");
                    FakeNode.WriteImage(target, label, File.Exists(versionFile) ? File.ReadAllText(versionFile).Trim() : "tree");
                    break;
                }

            case "tune2fs":
                {
                    var label = arguments[IndexAfter(arguments, "-L")];
                    var target = arguments[^1];
                    var bytes = File.ReadAllBytes(target);
                    bytes.AsSpan(1024 + 0x78, 16).Clear();
                    Encoding.UTF8.GetBytes(label).CopyTo(bytes, 1024 + 0x78);
                    File.WriteAllBytes(target, bytes);
                    break;
                }

            default:
                throw new InvalidOperationException($"unexpected tool {invocation.CommandLine}");
        }

        return Task.FromResult(new ToolResult(0, string.Empty, string.Empty, TimeSpan.Zero));
    }

    private static int IndexAfter(IReadOnlyList<string> arguments, string flag)
    {
        for (var i = 0; i < arguments.Count - 1; i++)
        {
            if (arguments[i] == flag)
            {
                return i + 1;
            }
        }

        throw new InvalidOperationException($"no {flag} in {string.Join(' ', arguments)}");
    }
}

public sealed class FakeProbe : INodeProbe
{
    public long MemoryBytes { get; set; } = 4L << 30;

    public Dictionary<string, long> Available { get; } = [];

    public long DefaultAvailable { get; set; } = 100L << 30;

    public FileSystemSpace GetSpace(string path)
    {
        var available = Available.FirstOrDefault(pair => path.StartsWith(pair.Key, StringComparison.Ordinal)).Value;
        var bytes = available == 0 ? DefaultAvailable : available;
        return new FileSystemSpace(bytes * 2, bytes);
    }

    public long AvailableMemoryBytes() => MemoryBytes;
}

/// <summary>Hooks that cut the power once, before or after one step.</summary>
public static class PowerCuts
{
    public static SwapHooks Before(SwapStep step) => new()
    {
        BeforeStep = s =>
        {
            if (s == step)
            {
                throw new PowerCutException($"power cut before {s}");
            }
        },
        IsPowerCut = e => e is PowerCutException,
    };

    public static SwapHooks After(SwapStep step) => new()
    {
        AfterStep = s =>
        {
            if (s == step)
            {
                throw new PowerCutException($"power cut after {s}");
            }
        },
        IsPowerCut = e => e is PowerCutException,
    };
}
