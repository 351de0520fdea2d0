using System.Diagnostics;
using Basalt.Agent.History;
using Basalt.Agent.Install;
using Basalt.Agent.Node;
using Basalt.Boot.Grub;
using Basalt.Disk.Assembly;
using Basalt.Disk.Devices;
using Basalt.Disk.FileSystems;
using Basalt.Disk.Layout;
using Basalt.Platform;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Agent.Reset;

/// <summary>What a reset did.</summary>
public sealed record ResetResult(long ImageBytes, bool PersistentFormatted, bool OemFormatted, PowerAction After, TimeSpan Elapsed);

/// <summary>
/// Carries out a <see cref="ResetPlan"/> from the recovery system: before-reset; the recovery image mounted read-only
/// as the source; passive.img, then active.img made from it on COS_STATE, each built beside its old file and renamed
/// over it (so at every instant COS_STATE holds a bootable image); the boot menu rewritten; COS_PERSISTENT and COS_OEM
/// formatted when asked; the record appended to the history; after-reset; then reboot or power-off.
/// </summary>
public sealed class ResetExecutor
{
    private readonly IToolRunner _runner;
    private readonly LifecycleStages _stages;
    private readonly Func<string, ILifecycleHistory> _historyAt;
    private readonly RunningSystemProbe _probe;
    private readonly ILogger _logger;
    private readonly IJournalCheckpoint _checkpoint;

    public ResetExecutor(IToolRunner runner, LifecycleStages stages, Func<string, ILifecycleHistory> historyAt, RunningSystemProbe probe, ILogger? logger = null, IJournalCheckpoint? checkpoint = null)
    {
        ArgumentNullException.ThrowIfNull(runner);
        ArgumentNullException.ThrowIfNull(stages);
        ArgumentNullException.ThrowIfNull(historyAt);
        ArgumentNullException.ThrowIfNull(probe);
        _runner = runner;
        _stages = stages;
        _historyAt = historyAt;
        _probe = probe;
        _logger = logger ?? NullLogger.Instance;
        _checkpoint = checkpoint ?? new JournalCheckpoint();
    }

    public async Task<ResetResult> ExecuteAsync(ResetPlan plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var stopwatch = Stopwatch.StartNew();
        Directory.CreateDirectory(plan.WorkDirectory);
        var work = Path.Combine(plan.WorkDirectory, $".basalt-reset-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(work);
        var mounts = new Stack<MountPoint>();
        try
        {
            await _stages.RunAsync("before-reset", "/", cancellationToken).ConfigureAwait(false);

            var tree = Path.Combine(work, "recovery-root");
            mounts.Push(await MountPoint.MountAsync(_runner, new MountRequest(plan.RecoveryImage, tree) { FileSystemType = plan.RecoveryImageType, Options = ["loop", "ro"] }, cancellationToken).ConfigureAwait(false));
            if (plan.StepsOf("after-reset-chroot") > 0)
            {
                var copy = Path.Combine(work, "chroot");
                Directory.CreateDirectory(copy);
                await _runner.RunAsync(new ToolInvocation("cp", ["-a", "--one-file-system", tree + "/.", copy]) { Package = "coreutils" }, cancellationToken).ConfigureAwait(false);
                await _stages.RunAsync("after-reset-chroot", copy, cancellationToken).ConfigureAwait(false);
                tree = copy;
            }

            var state = Path.Combine(work, "state");
            var stateMount = await MountPoint.MountAsync(_runner, new MountRequest(plan.StateDevice, state), cancellationToken).ConfigureAwait(false);
            mounts.Push(stateMount);
            var imageBytes = await DeployImagesAsync(tree, state, cancellationToken).ConfigureAwait(false);
            await mounts.Pop().DisposeAsync().ConfigureAwait(false);

            if (plan.ResetPersistent)
            {
                await FormatAsync(plan.PersistentDevice!, KairosLayout.PersistentLabel, null, cancellationToken).ConfigureAwait(false);
            }

            if (plan.ResetOem)
            {
                var oemContent = Path.Combine(work, "oem");
                Directory.CreateDirectory(oemContent);
                GrubEnvironment.Create().Save(Path.Combine(oemContent, GrubPaths.Environment.TrimStart('/')));
                await FormatAsync(plan.OemDevice!, KairosLayout.OemLabel, oemContent, cancellationToken).ConfigureAwait(false);
            }

            if (plan.GrubEnvironment is { } grubenv && File.Exists(grubenv))
            {
                var environment = Basalt.Boot.Grub.GrubEnvironment.Load(grubenv);
                BootAssessment.MarkGood(environment);
                environment.SaveForBoot(grubenv, _checkpoint);
            }

            await RecordAsync(plan, work, cancellationToken).ConfigureAwait(false);
            while (mounts.Count > 0)
            {
                await mounts.Pop().DisposeAsync().ConfigureAwait(false);
            }

            await _stages.RunAsync("after-reset", "/", cancellationToken).ConfigureAwait(false);
            var result = new ResetResult(imageBytes, plan.ResetPersistent, plan.ResetOem, plan.After, stopwatch.Elapsed);
            if (plan.After != PowerAction.None)
            {
                await _runner.RunAsync(InstallExecutor.DescribePowerAction(plan.After), cancellationToken).ConfigureAwait(false);
            }

            return result;
        }
        finally
        {
            while (mounts.Count > 0)
            {
                await mounts.Pop().DisposeAsync().ConfigureAwait(false);
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

    /// <summary>Passive first, then active: a power cut in between leaves a fresh passive and the old active, both bootable.</summary>
    private async Task<long> DeployImagesAsync(string tree, string state, CancellationToken cancellationToken)
    {
        var size = Ext4Sizing.ForTree(DirectoryTree.Measure(tree), headroomPercent: 10, reservedPercent: 0);
        var ext4 = new Ext4ImageBuilder(_runner);
        Directory.CreateDirectory(Path.Combine(state, "cOS"));
        var passive = Path.Combine(state, "cOS", "passive.img");
        // Each new image is built beside the old one before the rename: room for one more image is needed.
        DiskSpace.EnsureAvailable(state, size.ImageBytes);
        _logger.LogInformation("making passive.img ({Label}) from the recovery image", KairosLayout.PassiveImageLabel);
        var spec = new Ext4ImageSpec(KairosLayout.PassiveImageLabel, Guid.NewGuid(), size.ImageBytes) { SourceDirectory = tree, InodeCount = size.InodeCount, ReservedPercent = 0 };
        await ext4.BuildAsync(passive, spec, cancellationToken).ConfigureAwait(false);
        // GRUB reads COS_STATE without replaying its journal: until the journal is written out, the disk still names
        // the replaced image, whose freed blocks the next image may already fill. So every replacement GRUB reads is
        // checkpointed before anything else is written.
        _checkpoint.Checkpoint(state);
        DiskSpace.EnsureAvailable(state, size.ImageBytes);
        _logger.LogInformation("making active.img ({Label}) as a copy of passive.img", KairosLayout.ActiveImageLabel);
        await ext4.CloneAsync(passive, Path.Combine(state, "cOS", "active.img"), KairosLayout.ActiveImageLabel, Guid.NewGuid(), cancellationToken: cancellationToken).ConfigureAwait(false);
        _checkpoint.Checkpoint(state);

        var menu = Path.Combine(state, GrubPaths.MenuConfig.TrimStart('/'));
        Directory.CreateDirectory(Path.GetDirectoryName(menu)!);
        AtomicFile.WriteAllText(menu, GrubConfigGenerator.MenuConfig(GrubMenu.Create(GrubMenuOptions.Default)));
        Posix.SyncFileSystem(state);
        _checkpoint.Checkpoint(state);
        return size.ImageBytes;
    }

    private async Task FormatAsync(string device, string label, string? content, CancellationToken cancellationToken)
    {
        await UnmountAsync(device, cancellationToken).ConfigureAwait(false);
        var spec = new Ext4ImageSpec(label, Guid.NewGuid(), BlockDevice.SizeBytes(device)) { SourceDirectory = content };
        _logger.LogInformation("formatting {Device} as {Label}", device, label);
        await new Ext4ImageBuilder(_runner).FormatInPlaceAsync(device, 0, spec, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A partition about to be formatted must not stay mounted (in recovery /oem and /usr/local may be).</summary>
    private async Task UnmountAsync(string device, CancellationToken cancellationToken)
    {
        var status = Posix.GetStatus(Path.GetFullPath(new FileInfo(device).ResolveLinkTarget(true)?.FullName ?? device));
        foreach (var mount in _probe.ReadMounts().Where(mount => mount.Major == status.DeviceMajor && mount.Minor == status.DeviceMinor).Reverse())
        {
            await _runner.RunAsync(MountPoint.DescribeUnmount(mount.MountPoint), cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task RecordAsync(ResetPlan plan, string work, CancellationToken cancellationToken)
    {
        if (plan.PersistentDevice is null)
        {
            _logger.LogWarning("no {Label} partition: the reset is not recorded in the history", KairosLayout.PersistentLabel);
            return;
        }

        var persistent = Path.Combine(work, "persistent");
        await using var mount = await MountPoint.MountAsync(_runner, new MountRequest(plan.PersistentDevice, persistent), cancellationToken).ConfigureAwait(false);
        var node = new NodePaths { PersistentMount = persistent };
        Directory.CreateDirectory(node.AgentDirectory);
        var detail = $"from {plan.RecoveryImage}" + (plan.ResetPersistent ? ", persistent formatted" : string.Empty) + (plan.ResetOem ? ", oem formatted" : string.Empty);
        await _historyAt(node.History).AppendAsync(
            new LifecycleRecord(LifecycleOperations.Reset, DateTimeOffset.UtcNow, LifecycleOperations.Succeeded, Slot: "active", ImageReference: plan.RecoveryImage, Detail: detail),
            cancellationToken).ConfigureAwait(false);
    }
}
