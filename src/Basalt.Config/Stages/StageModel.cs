namespace Basalt.Config.Stages;

/// <summary>The parsed <c>stages</c> of one config source: stage name → its steps, in file order.</summary>
public sealed record StagePlan(string Source, IReadOnlyDictionary<string, IReadOnlyList<StageStep>> Stages)
{
    /// <summary>Keys that were recognised but are not carried out by Basalt, or not recognised at all.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    public IReadOnlyList<StageStep> StepsOf(string stage) =>
        Stages.TryGetValue(stage, out var steps) ? steps : [];
}

/// <summary>One step of a stage (yip calls it a "stage"): its conditions and everything it does.</summary>
public sealed record StageStep
{
    public string? Name { get; init; }
    /// <summary>Zero-based position of the step in its stage within its source.</summary>
    public int Index { get; init; }

    // Conditions.
    public string? If { get; init; }
    public string? OnlyOs { get; init; }
    public string? OnlyOsVersion { get; init; }
    public string? OnlyArch { get; init; }
    public string? Node { get; init; }
    public IfFilesCondition? IfFiles { get; init; }
    /// <summary>Names of steps this one runs after; without it a step runs after the one before it.</summary>
    public IReadOnlyList<string> After { get; init; } = [];

    // Actions, carried out in yip's order: dns, downloads, directories, files, commands, hostname,
    // sysctl, users, authorized_keys, modules, timesyncd, systemctl, environment, layout.
    public StageDns? Dns { get; init; }
    public IReadOnlyList<StageDownload> Downloads { get; init; } = [];
    public IReadOnlyList<StageDirectory> Directories { get; init; } = [];
    public IReadOnlyList<StageFile> Files { get; init; } = [];
    public IReadOnlyList<string> Commands { get; init; } = [];
    public string? Hostname { get; init; }
    public IReadOnlyList<KeyValuePair<string, string>> Sysctl { get; init; } = [];
    /// <summary>Users to create or modify, sorted by name so ids come out the same on every run.</summary>
    public IReadOnlyList<StageUser> Users { get; init; } = [];
    public IReadOnlyList<KeyValuePair<string, IReadOnlyList<string>>> AuthorizedKeys { get; init; } = [];
    public IReadOnlyList<string> Modules { get; init; } = [];
    public IReadOnlyList<KeyValuePair<string, string>> Timesyncd { get; init; } = [];
    public StageSystemctl? Systemctl { get; init; }
    public IReadOnlyList<KeyValuePair<string, string>> Environment { get; init; } = [];
    public string? EnvironmentFile { get; init; }
    public StageLayout? Layout { get; init; }

    /// <summary>How the step is shown: its name, or its position.</summary>
    public string DisplayName => string.IsNullOrEmpty(Name) ? $"#{Index}" : Name;
}

/// <summary><c>if_files</c>: all of <see cref="All"/> exist, one of <see cref="Any"/> exists, none of <see cref="None"/> exists.</summary>
public sealed record IfFilesCondition(IReadOnlyList<string> Any, IReadOnlyList<string> All, IReadOnlyList<string> None);

public enum FileEncoding
{
    Plain,
    Base64,
    Gzip,
    GzipBase64,
}

/// <summary>A file to write. <see cref="OwnerName"/> ("user" or "user:group") wins over the numeric ids.</summary>
public sealed record StageFile(string Path, string Content)
{
    public FileEncoding Encoding { get; init; }
    /// <summary>Mode bits; null means 0644.</summary>
    public UnixFileMode? Permissions { get; init; }
    public int Owner { get; init; }
    public int Group { get; init; }
    public string? OwnerName { get; init; }
}

public sealed record StageDirectory(string Path)
{
    /// <summary>Mode bits; null means 0755.</summary>
    public UnixFileMode? Permissions { get; init; }
    public int Owner { get; init; }
    public int Group { get; init; }
}

public sealed record StageDownload(string Url, string Path)
{
    public UnixFileMode? Permissions { get; init; }
    public int Owner { get; init; }
    public int Group { get; init; }
    public string? OwnerName { get; init; }
    /// <summary>Seconds; 0 means Basalt's default.</summary>
    public int TimeoutSeconds { get; init; }
}

/// <summary>A user to create, or to modify when it exists in the root's /etc/passwd.</summary>
public sealed record StageUser(string Name)
{
    /// <summary><c>passwd</c>: a crypt hash (kept as is) or a plain password (hashed with SHA-512 crypt).</summary>
    public string? Password { get; init; }
    public string? Gecos { get; init; }
    public string? Homedir { get; init; }
    public bool NoCreateHome { get; init; }
    public string? PrimaryGroup { get; init; }
    public IReadOnlyList<string> Groups { get; init; } = [];
    public bool NoUserGroup { get; init; }
    public bool System { get; init; }
    public string? Shell { get; init; }
    public bool LockPassword { get; init; }
    public int? Uid { get; init; }
    public IReadOnlyList<string> SshAuthorizedKeys { get; init; } = [];
}

public sealed record StageDns(IReadOnlyList<string> Nameservers, IReadOnlyList<string> Search, IReadOnlyList<string> Options)
{
    /// <summary>Where resolv.conf is written; null means /etc/resolv.conf.</summary>
    public string? Path { get; init; }
}

public sealed record StageSystemctl(
    IReadOnlyList<string> Enable,
    IReadOnlyList<string> Disable,
    IReadOnlyList<string> Mask,
    IReadOnlyList<string> Start,
    IReadOnlyList<SystemdOverride> Overrides);

/// <summary>A drop-in for <see cref="Service"/>; <see cref="Name"/> defaults to override-basalt.conf.</summary>
public sealed record SystemdOverride(string Service, string Content, string? Name);

/// <summary><c>layout</c>: on the disk holding <see cref="Device"/>, grow the last partition and add partitions.</summary>
public sealed record StageLayout(LayoutDevice Device, LayoutExpand? Expand, IReadOnlyList<LayoutPartition> AddPartitions);

/// <summary>The disk: the one holding a filesystem or partition labelled <see cref="Label"/>, else <see cref="Path"/>.</summary>
public sealed record LayoutDevice(string? Label, string? Path)
{
    public bool InitDisk { get; init; }
}

/// <summary>Grow the last partition to <see cref="SizeMiB"/> (0: all free space).</summary>
public sealed record LayoutExpand(long SizeMiB);

public sealed record LayoutPartition(long SizeMiB)
{
    public string? FileSystemLabel { get; init; }
    public string? PartitionLabel { get; init; }
    /// <summary>ext2 (default), ext3, ext4, xfs, btrfs, vfat/fat/fat16/fat32, swap, or noformat.</summary>
    public string FileSystem { get; init; } = "ext2";
    public bool Bootable { get; init; }
}
