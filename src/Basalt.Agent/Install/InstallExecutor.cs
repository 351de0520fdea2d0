using System.Diagnostics;
using Basalt.Agent.History;
using Basalt.Agent.Node;
using Basalt.Agent.Slots;
using Basalt.Build.Artifacts;
using Basalt.Disk.Devices;
using Basalt.Oci.References;
using Basalt.Platform;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Agent.Install;

/// <summary>What an install did.</summary>
public sealed record InstallResult(string Device, long DiskBytes, string Source, PowerAction After, TimeSpan Elapsed);

/// <summary>
/// Unpacks an OCI image source into a directory (the CLI hands in its image service) and says which image it was;
/// with <paramref name="seedBlobStore"/>, also copies that image's blobs into the blob store there, under its name.
/// </summary>
public delegate Task<UnpackedImageIdentity> ImageUnpacker(ImageSource source, string targetDirectory, string? seedBlobStore, CancellationToken cancellationToken);

/// <summary>The image an unpack resolved: its name as upgrades record it, its manifest digest and its build date.</summary>
public sealed record UnpackedImageIdentity(string Name, string Digest, DateTimeOffset? BuildDate);

/// <summary>
/// Carries out an <see cref="InstallPlan"/>: before-install, the source tree (bind mount of /, a directory or an
/// unpacked image), after-install-chroot in a copy of the tree, the disk written onto the device by
/// <see cref="DiskArtifactBuilder"/> (with the merged cloud-config on COS_OEM, the slots file on COS_STATE and the
/// install record on COS_PERSISTENT), after-install, then reboot or power-off through the tool runner. The disk is laid out and
/// checked against the device before its first byte is written; the work directory is removed whatever happens.
/// </summary>
public sealed class InstallExecutor
{
    private readonly IToolRunner _runner;
    private readonly LifecycleStages _stages;
    private readonly Func<string, ILifecycleHistory> _historyAt;
    private readonly ImageUnpacker? _unpack;
    private readonly ILogger _logger;

    /// <param name="historyAt">Opens the lifecycle history stored at a path (the file-backed store).</param>
    /// <param name="unpack">Unpacks image sources; null when only dir: and the running system are accepted.</param>
    public InstallExecutor(IToolRunner runner, LifecycleStages stages, Func<string, ILifecycleHistory> historyAt, ImageUnpacker? unpack = null, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(stages);
        ArgumentNullException.ThrowIfNull(historyAt);
        _runner = runner;
        _stages = stages;
        _historyAt = historyAt;
        _unpack = unpack;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>The call that carries out <paramref name="action"/>.</summary>
    public static ToolInvocation DescribePowerAction(PowerAction action) => action switch
    {
        PowerAction.Reboot => new ToolInvocation("systemctl", ["reboot"]) { Package = "systemd" },
        PowerAction.Poweroff => new ToolInvocation("systemctl", ["poweroff"]) { Package = "systemd" },
        _ => throw new ArgumentOutOfRangeException(nameof(action), action, "no power action"),
    };

    public async Task<InstallResult> ExecuteAsync(InstallPlan plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var stopwatch = Stopwatch.StartNew();
        if (plan.Source.Kind == InstallSourceKind.Image && _unpack is null)
        {
            throw new UnsupportedInstallSettingException("install source", $"{plan.Source.Text} is an image and no image service was given", "use a dir: source");
        }

        Directory.CreateDirectory(plan.WorkDirectory);
        if (plan.Source.Kind == InstallSourceKind.RunningSystem && Posix.GetStatus(plan.WorkDirectory).Device == Posix.GetStatus("/").Device)
        {
            // The bind mount of / would show the images being made inside the tree they are made from.
            throw new UnsupportedInstallSettingException("work directory", $"{plan.WorkDirectory} is on the root filesystem, which is the install source", "give a work directory on another filesystem (e.g. a tmpfs or a mounted disk)");
        }

        var work = Path.Combine(plan.WorkDirectory, $".basalt-install-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        MountPoint? rootBind = null;
        try
        {
            await _stages.RunAsync("before-install", "/", cancellationToken).ConfigureAwait(false);

            var persistent = Path.Combine(work, "persistent");
            var node = new NodePaths { PersistentMount = persistent };
            Directory.CreateDirectory(node.AgentDirectory);

            string tree;
            UnpackedImageIdentity? image = null;
            switch (plan.Source.Kind)
            {
                case InstallSourceKind.Directory:
                    tree = plan.Source.Path!;
                    break;
                case InstallSourceKind.Image:
                    tree = Path.Combine(work, "rootfs");
                    _logger.LogInformation("unpacking {Source}", plan.Source.Text);
                    image = await _unpack!(plan.Source.Image!, tree, plan.SeedBlobs ? node.BlobStore : null, cancellationToken).ConfigureAwait(false);
                    break;
                default:
                    tree = Path.Combine(work, "running-root");
                    rootBind = await MountPoint.MountAsync(_runner, new MountRequest("/", tree) { Options = ["bind", "ro"] }, cancellationToken).ConfigureAwait(false);
                    break;
            }

            if (plan.StepsOf("after-install-chroot") > 0)
            {
                tree = await PrepareChrootAsync(plan, tree, work, cancellationToken).ConfigureAwait(false);
            }

            string? cloudConfig = null;
            if (plan.CloudConfigText is { } text)
            {
                cloudConfig = Path.Combine(work, InstallPlan.CloudConfigFileName);
                await File.WriteAllTextAsync(cloudConfig, text, cancellationToken).ConfigureAwait(false);
            }

            // The slots file travels inside COS_STATE, beside the images it describes.
            var slots = Path.Combine(work, "slots.json");
            // An image is recorded by digest, as an upgrade records it: an upgrade to the installed image is then a no-op.
            var installed = image is null
                ? InstallSlots.Describe(plan.Source, tree, DateTimeOffset.UtcNow, plan.MediumSlotsPath)
                : InstallSlots.Describe(image.Name, image.Digest, image.BuildDate, DateTimeOffset.UtcNow);
            await File.WriteAllBytesAsync(slots, SlotStore.Serialize(installed), cancellationToken).ConfigureAwait(false);
            var disk = InstallPlanner.PlanDisk(plan, tree, cloudConfig, persistent, [new DiskContentFile(slots, InstallSlots.StateTarget)]);

            // The record travels inside COS_PERSISTENT: it exists exactly when the disk was written.
            await _historyAt(node.History).AppendAsync(
                new LifecycleRecord(LifecycleOperations.Install, DateTimeOffset.UtcNow, LifecycleOperations.Succeeded, Slot: "active", ImageReference: plan.Source.Text, Detail: $"installed onto {plan.Device}"),
                cancellationToken).ConfigureAwait(false);

            _logger.LogInformation("writing {Device}", plan.Device);
            var written = await new DiskArtifactBuilder(_runner).BuildAsync(disk, cancellationToken).ConfigureAwait(false);

            if (rootBind is not null)
            {
                await rootBind.DisposeAsync().ConfigureAwait(false);
                rootBind = null;
            }

            await _stages.RunAsync("after-install", "/", cancellationToken).ConfigureAwait(false);
            var result = new InstallResult(plan.Device, written.DiskBytes, plan.Source.Text, plan.After, stopwatch.Elapsed);
            if (plan.After != PowerAction.None)
            {
                await _runner.RunAsync(DescribePowerAction(plan.After), cancellationToken).ConfigureAwait(false);
            }

            return result;
        }
        finally
        {
            if (rootBind is not null)
            {
                await rootBind.DisposeAsync().ConfigureAwait(false);
            }

            await RemoveAsync(work).ConfigureAwait(false);
        }
    }

    /// <summary>after-install-chroot changes the installed system, never the source: it runs in a copy (an unpacked image is already one).</summary>
    private async Task<string> PrepareChrootAsync(InstallPlan plan, string tree, string work, CancellationToken cancellationToken)
    {
        var root = tree;
        if (plan.Source.Kind != InstallSourceKind.Image)
        {
            root = Path.Combine(work, "chroot");
            Directory.CreateDirectory(root);
            await _runner.RunAsync(new ToolInvocation("cp", ["-a", "--one-file-system", tree + "/.", root]) { Package = "coreutils" }, cancellationToken).ConfigureAwait(false);
        }

        await _stages.RunAsync("after-install-chroot", root, cancellationToken).ConfigureAwait(false);
        return root;
    }

    /// <summary>rm --one-file-system: never follows a bind mount that failed to go away.</summary>
    private async Task RemoveAsync(string work)
    {
        if (!Directory.Exists(work))
        {
            return;
        }

        try
        {
            await _runner.RunAsync(new ToolInvocation("rm", ["-rf", "--one-file-system", work]) { Package = "coreutils" }, CancellationToken.None).ConfigureAwait(false);
        }
        catch (ToolFailedException exception)
        {
            _logger.LogWarning("could not remove the work directory {Path}: {Message}", work, exception.Message);
        }
    }
}
