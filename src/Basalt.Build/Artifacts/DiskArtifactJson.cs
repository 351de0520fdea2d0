using System.Text.Json.Serialization;
using Basalt.Disk.Layout;

namespace Basalt.Build.Artifacts;

/// <summary>One partition of a built or planned disk, as <c>--output json</c> shows it.</summary>
public sealed record DiskPartitionSummary(int Number, string Label, string FileSystem, long OffsetBytes, long SizeBytes, Guid PartitionGuid, Guid FileSystemUuid);

/// <summary>A disk build (or its dry run) as <c>--output json</c> shows it.</summary>
public sealed record DiskArtifactSummary(
    string Output,
    string Format,
    long DiskBytes,
    Guid DiskGuid,
    string Seed,
    bool DryRun,
    long? AllocatedBytes,
    long? RecoveryImageBytes,
    double? ElapsedSeconds,
    IReadOnlyList<DiskPartitionSummary> Partitions)
{
    /// <summary>The cloud-config file the build puts on COS_OEM, if any.</summary>
    public string? CloudConfig { get; init; }

    public static DiskArtifactSummary FromPlan(DiskArtifactPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return new(plan.OutputPath, plan.Options.Format.ToString().ToLowerInvariant(), plan.Layout.DiskBytes, plan.Layout.DiskGuid, plan.Layout.Seed, true, null, null, null, SummarizePartitions(plan.Layout))
        {
            CloudConfig = plan.Options.CloudConfigPath,
        };
    }

    public static DiskArtifactSummary FromResult(DiskArtifactResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return new(result.OutputPath, result.Format.ToString().ToLowerInvariant(), result.DiskBytes, result.Layout.DiskGuid, result.Layout.Seed, false,
            result.AllocatedBytes, result.RecoveryImageBytes, Math.Round(result.Elapsed.TotalSeconds, 1), SummarizePartitions(result.Layout));
    }

    private static List<DiskPartitionSummary> SummarizePartitions(ResolvedDiskLayout layout) =>
        layout.Partitions.Select(partition => new DiskPartitionSummary(
            partition.Number, partition.Label, partition.Spec.FileSystem.ToString().ToLowerInvariant(), partition.OffsetBytes, partition.SizeBytes, partition.PartitionGuid, partition.FileSystemUuid)).ToList();
}

/// <summary>The grubenv of a disk after a <c>bootentry</c> edit.</summary>
public sealed record BootEntrySummary(string Disk, string? NextEntry, IReadOnlyDictionary<string, string> Variables);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(DiskArtifactSummary))]
[JsonSerializable(typeof(BootEntrySummary))]
public sealed partial class ArtifactJsonContext : JsonSerializerContext;
