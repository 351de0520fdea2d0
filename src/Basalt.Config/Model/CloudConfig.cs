using System.ComponentModel;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Basalt.Config.Model;

// The typed view of a Kairos cloud-config. Property names are the YAML keys Kairos documents (snake_case by
// default, the dashed ones spelled out). Every property is optional: an absent key keeps Kairos's default.

/// <summary>The whole cloud-config. Keys Basalt does not know are kept in <see cref="Extra"/> and reported as warnings.</summary>
public sealed record CloudConfig
{
    [Description("Name of this configuration, shown in logs.")]
    public string? Name { get; init; }

    [Description("Hostname of the node (templating such as {{ trunc 4 .MachineID }} is applied by the stage runner).")]
    public string? Hostname { get; init; }

    [Description("URL of a further cloud-config to fetch and merge (recursively).")]
    public string? ConfigUrl { get; init; }

    public InstallConfig? Install { get; init; }

    public UpgradeConfig? Upgrade { get; init; }

    public ResetConfig? Reset { get; init; }

    [Description("Users to create or modify at boot.")]
    public IReadOnlyList<UserConfig>? Users { get; init; }

    [Description("SSH public keys (or github:USER / gitlab:USER) for the default user.")]
    public IReadOnlyList<string>? SshAuthorizedKeys { get; init; }

    [Description("yip stages: stage name to a list of steps; every file's steps run.")]
    public JsonObject? Stages { get; init; }

    [Description("cloud-init write_files, mapped onto the boot stage.")]
    public JsonArray? WriteFiles { get; init; }

    [Description("cloud-init runcmd, mapped onto the boot stage.")]
    public JsonArray? Runcmd { get; init; }

    [Description("cloud-init bootcmd, mapped onto the boot stage.")]
    public JsonArray? Bootcmd { get; init; }

    [Description("Kernel command line options and GRUB variables written to grubenv.")]
    public IReadOnlyDictionary<string, string>? GrubOptions { get; init; }

    public K3sConfig? K3s { get; init; }

    [JsonPropertyName("k3s-agent")]
    public K3sConfig? K3sAgent { get; init; }

    public P2PConfig? P2p { get; init; }

    public KcryptConfig? Kcrypt { get; init; }

    public LogsConfig? Logs { get; init; }

    public KubeVipConfig? Kubevip { get; init; }

    [Description("System extensions or bundles to install.")]
    public IReadOnlyList<BundleConfig>? Bundles { get; init; }

    [Description("Fail the install when a bundle cannot be applied.")]
    [JsonPropertyName("fail_on_bundles_errors")]
    public bool? FailOnBundlesErrors { get; init; }

    [Description("Free-form options passed to providers.")]
    public IReadOnlyDictionary<string, string>? Options { get; init; }

    [Description("Environment variables (KEY=VALUE) for the agent's actions.")]
    public IReadOnlyList<string>? Env { get; init; }

    public bool? Debug { get; init; }

    [Description("Fail on errors in stages instead of continuing.")]
    public bool? Strict { get; init; }

    [Description("Extra paths to read cloud-config stages from.")]
    [JsonPropertyName("cloud-init-paths")]
    public IReadOnlyList<string>? CloudInitPaths { get; init; }

    [Description("Eject the installation CD after installing.")]
    [JsonPropertyName("eject-cd")]
    public bool? EjectCd { get; init; }

    /// <summary>Keys Basalt does not model, kept as written.</summary>
    [JsonExtensionData]
    public JsonObject? Extra { get; set; }
}

/// <summary>How the installer lays out and fills the disk.</summary>
public sealed record InstallConfig
{
    [Description("Target disk, or \"auto\" for the biggest suitable disk.")]
    public string? Device { get; init; }

    [Description("Install without asking, on first boot of the installer.")]
    public bool? Auto { get; init; }

    public bool? Reboot { get; init; }

    public bool? Poweroff { get; init; }

    [Description("Do not partition or format: install into existing partitions.")]
    [JsonPropertyName("no-format")]
    public bool? NoFormat { get; init; }

    [Description("Install even if the disk has a previous installation.")]
    public bool? Force { get; init; }

    [Description("Image to install instead of the running one (oci:REF, dir:PATH, file:PATH, ocifile:TAR).")]
    public string? Source { get; init; }

    public string? Image { get; init; }

    [Description("Firmware type: efi or bios.")]
    public string? Firmware { get; init; }

    [Description("Partition table type (gpt).")]
    [JsonPropertyName("part-table")]
    public string? PartTable { get; init; }

    public PartitionsConfig? Partitions { get; init; }

    [JsonPropertyName("extra-partitions")]
    public IReadOnlyList<PartitionConfig>? ExtraPartitions { get; init; }

    [Description("Paths kept across reboots on COS_PERSISTENT, added to the defaults.")]
    public IReadOnlyList<string>? BindMounts { get; init; }

    [Description("Paths made ephemeral (tmpfs overlays), added to the defaults.")]
    public IReadOnlyList<string>? EphemeralMounts { get; init; }

    public IReadOnlyDictionary<string, string>? GrubOptions { get; init; }

    [Description("Partition labels to encrypt with LUKS (e.g. COS_PERSISTENT).")]
    public IReadOnlyList<string>? EncryptedPartitions { get; init; }

    [JsonPropertyName("skip_copy_kcrypt_plugin")]
    public bool? SkipCopyKcryptPlugin { get; init; }

    public IReadOnlyList<string>? Env { get; init; }

    [Description("The active (and passive) system image.")]
    public ImageConfig? System { get; init; }

    [JsonPropertyName("recovery-system")]
    public ImageConfig? RecoverySystem { get; init; }

    [JsonPropertyName("passive")]
    public ImageConfig? Passive { get; init; }

    [JsonPropertyName("grub-entry-name")]
    public string? GrubEntryName { get; init; }

    public IReadOnlyList<BundleConfig>? Bundles { get; init; }
}

/// <summary>The fixed Kairos partitions.</summary>
public sealed record PartitionsConfig
{
    public PartitionConfig? Oem { get; init; }

    public PartitionConfig? Recovery { get; init; }

    public PartitionConfig? State { get; init; }

    [Description("COS_PERSISTENT; size 0 fills the rest of the disk.")]
    public PartitionConfig? Persistent { get; init; }

    public PartitionConfig? Efi { get; init; }

    public PartitionConfig? Bios { get; init; }
}

/// <summary>A partition; sizes are in MiB as in Kairos, 0 meaning "the rest of the disk".</summary>
public sealed record PartitionConfig
{
    public string? Name { get; init; }

    [Description("Size in MiB; 0 takes the rest of the disk.")]
    public long? Size { get; init; }

    [Description("Filesystem: ext2, ext4, xfs, btrfs, vfat.")]
    public string? Fs { get; init; }

    public string? Label { get; init; }
}

/// <summary>A system image: where it comes from and how big its file system is.</summary>
public sealed record ImageConfig
{
    [Description("Source: oci:REF, dir:PATH, file:PATH, ocifile:TAR (docker: is accepted as oci:).")]
    public string? Uri { get; init; }

    [Description("Size in MiB.")]
    public long? Size { get; init; }

    public string? Fs { get; init; }

    public string? Label { get; init; }
}

public sealed record UpgradeConfig
{
    [Description("Upgrade the recovery system instead of the active one.")]
    public bool? Recovery { get; init; }

    public bool? Reboot { get; init; }

    public bool? Poweroff { get; init; }

    public ImageConfig? System { get; init; }

    [JsonPropertyName("recovery-system")]
    public ImageConfig? RecoverySystem { get; init; }

    [JsonPropertyName("grub-entry-name")]
    public string? GrubEntryName { get; init; }
}

public sealed record ResetConfig
{
    public bool? Enabled { get; init; }

    [Description("Format COS_PERSISTENT (default true).")]
    [JsonPropertyName("reset-persistent")]
    public bool? ResetPersistent { get; init; }

    [Description("Format COS_OEM (default true).")]
    [JsonPropertyName("reset-oem")]
    public bool? ResetOem { get; init; }

    public bool? Reboot { get; init; }

    public bool? Poweroff { get; init; }

    public ImageConfig? System { get; init; }

    [JsonPropertyName("grub-entry-name")]
    public string? GrubEntryName { get; init; }
}

/// <summary>A user to create or modify (yip's user step, used by the top-level <c>users</c> key).</summary>
public sealed record UserConfig
{
    public string? Name { get; init; }

    [Description("Password: a crypt(3) hash ($6$…) or plain text.")]
    public string? Passwd { get; init; }

    public bool? LockPasswd { get; init; }

    public IReadOnlyList<string>? Groups { get; init; }

    public string? PrimaryGroup { get; init; }

    public IReadOnlyList<string>? SshAuthorizedKeys { get; init; }

    public string? Shell { get; init; }

    public string? Homedir { get; init; }

    public string? Uid { get; init; }

    public string? Gecos { get; init; }

    public bool? NoCreateHome { get; init; }

    public bool? System { get; init; }
}

/// <summary>The k3s provider: server (<c>k3s</c>) or agent (<c>k3s-agent</c>).</summary>
public sealed record K3sConfig
{
    public bool? Enabled { get; init; }

    public IReadOnlyDictionary<string, string>? Env { get; init; }

    public IReadOnlyList<string>? Args { get; init; }

    public bool? ReplaceEnv { get; init; }

    public bool? ReplaceArgs { get; init; }

    public bool? EmbeddedRegistry { get; init; }
}

/// <summary>Peer-to-peer bootstrap of a cluster (edgevpn).</summary>
public sealed record P2PConfig
{
    [Description("Shared network token (generate one with `kairos-cli generate-token`).")]
    public string? NetworkToken { get; init; }

    public string? NetworkId { get; init; }

    [Description("master, worker or none; automatic when empty.")]
    public string? Role { get; init; }

    public bool? Dns { get; init; }

    public bool? DisableDht { get; init; }

    public bool? DynamicRoles { get; init; }

    public P2PVpnConfig? Vpn { get; init; }

    public P2PAutoConfig? Auto { get; init; }
}

public sealed record P2PVpnConfig
{
    public bool? Create { get; init; }

    public bool? Use { get; init; }

    public IReadOnlyDictionary<string, string>? Env { get; init; }
}

public sealed record P2PAutoConfig
{
    public bool? Enable { get; init; }

    public P2PHighAvailabilityConfig? Ha { get; init; }
}

public sealed record P2PHighAvailabilityConfig
{
    public bool? Enable { get; init; }

    public long? MasterNodes { get; init; }
}

/// <summary>Disk encryption key retrieval (kcrypt challenger).</summary>
public sealed record KcryptConfig
{
    public KcryptChallengerConfig? Challenger { get; init; }
}

public sealed record KcryptChallengerConfig
{
    public string? ChallengerServer { get; init; }

    public string? NvIndex { get; init; }

    public string? CIndex { get; init; }

    public string? TpmDevice { get; init; }

    public bool? Mdns { get; init; }

    public string? Certificate { get; init; }
}

/// <summary>What `logs` collection gathers.</summary>
public sealed record LogsConfig
{
    public IReadOnlyList<string>? Files { get; init; }

    public IReadOnlyList<string>? Journal { get; init; }
}

public sealed record KubeVipConfig
{
    public bool? Enabled { get; init; }

    public string? Eip { get; init; }

    public string? ManifestUrl { get; init; }

    public string? Interface { get; init; }

    public bool? StaticPod { get; init; }
}

public sealed record BundleConfig
{
    public IReadOnlyList<string>? Targets { get; init; }

    public bool? LocalFile { get; init; }

    public string? RootfsPath { get; init; }

    public string? DbPath { get; init; }
}

/// <summary>Source-generated (trim-safe) metadata for the model.</summary>
[JsonSourceGenerationOptions(
    PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower,
    DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    WriteIndented = true)]
[JsonSerializable(typeof(CloudConfig))]
public sealed partial class ConfigJsonContext : JsonSerializerContext;
