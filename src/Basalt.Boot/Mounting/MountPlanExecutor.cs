using System.Text;
using System.Text.Json.Serialization;
using Basalt.Config.Stages;
using Basalt.Platform;

namespace Basalt.Boot.Mounting;

/// <summary>Carries out a <see cref="MountPlan"/>.</summary>
public interface IMountPlanExecutor
{
    Task<MountPlanResult> ExecuteAsync(MountPlan plan, CancellationToken cancellationToken = default);
}

[JsonConverter(typeof(JsonStringEnumConverter<StepStatus>))]
public enum StepStatus
{
    Done,
    /// <summary>An optional step that could not run (its device was not found) or failed; the boot went on.</summary>
    Skipped,
    Failed,
}

public sealed record StepOutcome(string Id, StepStatus Status, string? Message = null);

/// <summary>
/// How the plan ended. On success <see cref="Handover"/> says what PID 1 must <c>exec</c>
/// (<c>switch_root NEWROOT INIT</c>); on failure the failure action has already run.
/// </summary>
public sealed record MountPlanResult(
    bool Succeeded,
    IReadOnlyList<StepOutcome> Steps,
    IReadOnlyDictionary<string, string> Slots,
    SwitchRootStep? Handover,
    string? FailureReason)
{
    /// <summary>The plan that was carried out: the one given, or its second phase planned again with the config.</summary>
    public MountPlan? Plan { get; init; }
}

/// <summary>
/// Runs each step through the tool runner (<c>blkid</c>, <c>losetup</c>, <c>mount</c>, <c>e2fsck</c>,
/// <c>cp</c>, <c>curl</c>), logging every step to the console. A failed required step ends the plan
/// with the plan's failure action (reboot into the fallback), never a hang.
/// </summary>
public sealed class MountPlanExecutor : IMountPlanExecutor
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(500);

    private readonly IToolRunner _runner;
    private readonly IBootFiles _files;
    private readonly IBootConsole _console;
    private readonly IStageRunner _stages;
    private readonly IBootFailureHandler _failure;
    private readonly IBootConfigReader? _config;
    private readonly Func<TimeSpan, CancellationToken, Task> _delay;

    /// <param name="config">Reads the cloud-config at the plan's <see cref="ReadConfigStep"/>; null keeps the plan's layout.</param>
    public MountPlanExecutor(
        IToolRunner runner,
        IBootFiles files,
        IBootConsole console,
        IStageRunner stages,
        IBootFailureHandler failure,
        Func<TimeSpan, CancellationToken, Task>? delay = null,
        IBootConfigReader? config = null)
    {
        _config = config;
        _runner = runner ?? throw new ArgumentNullException(nameof(runner));
        _files = files ?? throw new ArgumentNullException(nameof(files));
        _console = console ?? throw new ArgumentNullException(nameof(console));
        _stages = stages ?? throw new ArgumentNullException(nameof(stages));
        _failure = failure ?? throw new ArgumentNullException(nameof(failure));
        _delay = delay ?? Task.Delay;
    }

    /// <summary>
    /// The executor as it runs in the initramfs: host files, kernel log, the stages run in this process, the
    /// cloud-config read from the new root, reboot on failure.
    /// </summary>
    public static MountPlanExecutor ForHost(IToolRunner runner, IBootConsole? console = null)
    {
        ArgumentNullException.ThrowIfNull(runner);
        var bootConsole = console ?? new KernelLogConsole();
        var stages = new ConfigStageRunner(new ConfigStages(runner), bootConsole);
        return new MountPlanExecutor(runner, new HostBootFiles(), bootConsole, stages, new RebootFailureHandler(runner, bootConsole), config: new CloudConfigReader());
    }

    public async Task<MountPlanResult> ExecuteAsync(MountPlan plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var slots = new Dictionary<string, string>(StringComparer.Ordinal);
        var outcomes = new List<StepOutcome>();
        SwitchRootStep? handover = null;
        _console.Info($"booting the {plan.Mode.ToString().ToLowerInvariant()} system ({plan.Steps.Count} steps)");
        for (var i = 0; i < plan.Steps.Count; i++)
        {
            var step = plan.Steps[i];
            var prefix = $"[{i + 1}/{plan.Steps.Count}] {step.Id}";
            try
            {
                var resolved = Resolve(step, slots);
                _console.Info($"{prefix}: {MountPlanRenderer.Describe(resolved)}");
                if (resolved is ReadConfigStep read)
                {
                    // The rest of the plan is made again with the config; the steps done so far stay as they are.
                    plan = await ReadConfigAsync(plan, read, i, cancellationToken).ConfigureAwait(false);
                    outcomes.Add(new StepOutcome(step.Id, StepStatus.Done));
                    continue;
                }

                await RunStepAsync(resolved, slots, plan.CommandLine, cancellationToken).ConfigureAwait(false);
                outcomes.Add(new StepOutcome(step.Id, StepStatus.Done));
                if (resolved is SwitchRootStep switchRoot)
                {
                    handover = switchRoot;
                }
            }
            catch (Exception exception) when (exception is BasaltException or IOException or UnauthorizedAccessException)
            {
                if (!step.Required)
                {
                    _console.Warn($"{prefix}: skipped: {exception.Message}");
                    outcomes.Add(new StepOutcome(step.Id, StepStatus.Skipped, exception.Message));
                    continue;
                }

                var reason = $"{step.Id}: {exception.Message}";
                outcomes.Add(new StepOutcome(step.Id, StepStatus.Failed, exception.Message));
                _console.Error($"{prefix} failed: {exception.Message}");
                if (exception is BasaltException { Hint: { } hint })
                {
                    _console.Error($"hint: {hint}");
                }

                _console.Error($"the boot cannot go on: {plan.OnFailure.Description}");
                await _failure.HandleAsync(plan.OnFailure, reason, cancellationToken).ConfigureAwait(false);
                return new MountPlanResult(false, outcomes, slots, null, reason) { Plan = plan };
            }
        }

        return new MountPlanResult(true, outcomes, slots, handover, null) { Plan = plan };
    }

    /// <summary>
    /// Reads the config under the new root and returns the plan to go on with: planned again with its
    /// layout settings, or <paramref name="plan"/> itself when there is no reader or nothing can be used.
    /// Problems are told on the console; none of them stops the boot.
    /// </summary>
    private async Task<MountPlan> ReadConfigAsync(MountPlan plan, ReadConfigStep read, int index, CancellationToken cancellationToken)
    {
        if (_config is null)
        {
            _console.Info("no cloud-config reader: the planned layout is kept");
            return plan;
        }

        MountPlan next;
        try
        {
            var settings = await _config.ReadLayoutAsync(read.Root, plan.CommandLine, cancellationToken).ConfigureAwait(false);
            next = BootPlanner.Replan(plan, settings);
        }
        catch (Exception error) when (error is not OperationCanceledException)
        {
            _console.Warn($"cloud-config: {error.Message}; the boot goes on with the planned layout");
            return plan;
        }

        foreach (var problem in next.ConfigProblems)
        {
            _console.Warn($"cloud-config: {problem}");
        }

        if (next.ReadConfigIndex() != index || !next.Steps.Take(index).Select(s => s.Id).SequenceEqual(plan.Steps.Take(index).Select(s => s.Id), StringComparer.Ordinal))
        {
            _console.Warn("cloud-config: the layout it asks for changes what is already mounted; the boot goes on with the planned layout");
            return plan;
        }

        foreach (var path in next.Layout.CustomBindMounts)
        {
            _console.Info($"cloud-config: persistent bind mount {path}");
        }

        foreach (var path in next.Layout.CustomEphemeralMounts)
        {
            _console.Info($"cloud-config: ephemeral mount {path}");
        }

        return next;
    }

    private async Task RunStepAsync(MountStep step, Dictionary<string, string> slots, string commandLine, CancellationToken cancellationToken)
    {
        switch (step)
        {
            case FindDeviceStep find:
                slots[find.Slot] = await FindDeviceAsync(find, cancellationToken).ConfigureAwait(false);
                break;
            case CheckFileSystemStep check:
                // 0: clean, 1: errors fixed; anything else needs a human, and is reported by the caller.
                await RunAsync(new ToolInvocation("e2fsck", ["-p", check.Device]) { Package = "e2fsprogs", SuccessExitCodes = [0, 1] }, cancellationToken).ConfigureAwait(false);
                break;
            case RequireFileStep require:
                if (!_files.Exists(require.Path))
                {
                    throw new MountStepFailedException(step.Id, $"{require.Reason} {require.Path} does not exist",
                        "the image was deleted or never written; the node reboots into the next GRUB entry");
                }

                break;
            case DownloadStep download:
                _files.CreateDirectory(Path.GetDirectoryName(download.Destination)!);
                await RunAsync(new ToolInvocation("curl", ["--fail", "--silent", "--show-error", "--location", "--retry", "5", "--connect-timeout", "10", "--output", download.Destination, download.Url.AbsoluteUri]) { Package = "curl" }, cancellationToken).ConfigureAwait(false);
                break;
            case AttachLoopStep attach:
                {
                    List<string> arguments = ["--find", "--show"];
                    if (attach.ReadOnly)
                    {
                        arguments.Add("--read-only");
                    }

                    arguments.Add(attach.File);
                    var result = await RunAsync(new ToolInvocation("losetup", arguments) { Package = "mount" }, cancellationToken).ConfigureAwait(false);
                    var device = result.StandardOutput.Trim();
                    if (!device.StartsWith("/dev/", StringComparison.Ordinal))
                    {
                        throw new MountStepFailedException(step.Id, $"losetup printed no loop device for {attach.File}");
                    }

                    slots[attach.Slot] = device;
                    break;
                }

            case MountFileSystemStep mount:
                CreateMountPoint(mount.Target);
                await RunAsync(MountInvocation(mount.FileSystem, mount.Options, mount.Source, mount.Target), cancellationToken).ConfigureAwait(false);
                break;
            case MountOverlayStep overlay:
                CreateMountPoint(overlay.Target);
                _files.CreateDirectory(overlay.UpperDirectory);
                _files.CreateDirectory(overlay.WorkDirectory);
                await RunAsync(MountInvocation("overlay", [$"lowerdir={overlay.LowerDirectory}", $"upperdir={overlay.UpperDirectory}", $"workdir={overlay.WorkDirectory}"], "overlay", overlay.Target), cancellationToken).ConfigureAwait(false);
                break;
            case PersistentBindStep bind:
                await BindPersistentAsync(bind, cancellationToken).ConfigureAwait(false);
                break;
            case WriteFileStep write:
                _files.WriteAllText(write.Path, write.Content);
                break;
            case WriteFstabStep fstab:
                {
                    var content = new StringBuilder("# Written by the Basalt boot mounter: what it mounted before switching root.\n");
                    foreach (var entry in fstab.Entries)
                    {
                        content.Append(entry.Format()).Append('\n');
                    }

                    _files.WriteAllText(fstab.Path, content.ToString());
                    break;
                }

            case RunStageStep stage:
                await _stages.RunAsync(stage.Stage, stage.Root, commandLine, cancellationToken).ConfigureAwait(false);
                break;
            case SwitchRootStep switchRoot:
                {
                    var init = switchRoot.NewRoot.TrimEnd('/') + switchRoot.Init;
                    if (!_files.Exists(init))
                    {
                        throw new MountStepFailedException(step.Id, $"the new root has no {switchRoot.Init}",
                            "the image is not a bootable system (no init); rebuild it with 'basalt init'");
                    }

                    break;
                }

            default:
                throw new ArgumentException($"unknown step type {step.GetType().Name}", nameof(step));
        }
    }

    private async Task<string> FindDeviceAsync(FindDeviceStep find, CancellationToken cancellationToken)
    {
        var attempts = Math.Max(1, (int)Math.Ceiling(find.Timeout / PollInterval));
        for (var attempt = 1; ; attempt++)
        {
            if (find.Device.Kind == CommandLine.DeviceReferenceKind.Path)
            {
                if (_files.Exists(find.Device.Value))
                {
                    return find.Device.Value;
                }
            }
            else
            {
                // -c /dev/null: scan the devices now instead of trusting a cache; no udev needed. Exit 2: none found.
                var result = await RunAsync(new ToolInvocation("blkid", ["-c", "/dev/null", "-o", "device", "-t", find.Device.Spec]) { Package = "util-linux", SuccessExitCodes = [0, 2] }, cancellationToken).ConfigureAwait(false);
                var devices = result.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
                if (result.ExitCode == 0 && devices.Length > 0)
                {
                    var chosen = devices.Order(StringComparer.Ordinal).First();
                    if (devices.Length > 1)
                    {
                        _console.Warn($"{devices.Length} devices carry {find.Device.Spec} ({string.Join(", ", devices)}); using {chosen}. Remove the other disk or relabel it.");
                    }

                    return chosen;
                }
            }

            if (attempt >= attempts)
            {
                throw new MountStepFailedException(find.Id, $"no device with {find.Device.Spec} appeared within {find.Timeout.TotalSeconds:0}s",
                    $"check that the disk holding {find.Device.Spec} is attached and its driver is in the initramfs");
            }

            await _delay(PollInterval, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task BindPersistentAsync(PersistentBindStep bind, CancellationToken cancellationToken)
    {
        if (!_files.DirectoryExists(bind.StateDirectory))
        {
            // First use: seed from the image into a sibling, then rename, so a power cut never leaves a half copy
            // that a later boot would take for the real one.
            var seeding = bind.StateDirectory + ".seeding";
            if (_files.Exists(seeding))
            {
                _files.DeleteDirectory(seeding);
            }

            _files.CreateDirectory(seeding);
            if (_files.DirectoryExists(bind.Target))
            {
                await RunAsync(new ToolInvocation("cp", ["-a", bind.Target + "/.", seeding + "/"]) { Package = "coreutils" }, cancellationToken).ConfigureAwait(false);
            }

            _files.MoveDirectory(seeding, bind.StateDirectory);
        }

        CreateMountPoint(bind.Target);
        _files.BindMount(bind.StateDirectory, bind.Target);
    }

    private void CreateMountPoint(string path)
    {
        if (!_files.DirectoryExists(path))
        {
            _files.CreateDirectory(path);
        }
    }

    private static ToolInvocation MountInvocation(string fileSystem, IReadOnlyList<string> options, string source, string target)
    {
        List<string> arguments = [];
        if (fileSystem != "auto")
        {
            arguments.AddRange(["-t", fileSystem]);
        }

        if (options.Count > 0)
        {
            arguments.AddRange(["-o", string.Join(',', options)]);
        }

        arguments.AddRange([source, target]);
        return new ToolInvocation("mount", arguments) { Package = "mount" };
    }

    private Task<ToolResult> RunAsync(ToolInvocation invocation, CancellationToken cancellationToken) =>
        _runner.RunAsync(invocation, cancellationToken);

    private static MountStep Resolve(MountStep step, Dictionary<string, string> slots) => step switch
    {
        CheckFileSystemStep s => s with { Device = Substitute(s.Device, slots, s.Id) },
        MountFileSystemStep s => s with { Source = Substitute(s.Source, slots, s.Id) },
        AttachLoopStep s => s with { File = Substitute(s.File, slots, s.Id) },
        _ => step,
    };

    private static string Substitute(string text, Dictionary<string, string> slots, string stepId)
    {
        var start = text.IndexOf("${", StringComparison.Ordinal);
        while (start >= 0)
        {
            var end = text.IndexOf('}', start);
            if (end < 0)
            {
                break;
            }

            var name = text[(start + 2)..end];
            if (!slots.TryGetValue(name, out var value))
            {
                throw new MountStepFailedException(stepId, $"its device ${{{name}}} was not found");
            }

            text = string.Concat(text.AsSpan(0, start), value, text.AsSpan(end + 1));
            start = text.IndexOf("${", start + value.Length, StringComparison.Ordinal);
        }

        return text;
    }
}

/// <summary>
/// The real failure action: write grubenv <c>next_entry</c> on the OEM partition (when it can be found),
/// wait so the message can be read, then <c>reboot -f</c>. Every part is best effort except the reboot.
/// </summary>
public sealed class RebootFailureHandler : IBootFailureHandler
{
    private readonly IToolRunner _runner;
    private readonly IBootConsole _console;
    private readonly string _mountPoint;
    private readonly Func<TimeSpan, CancellationToken, Task> _delay;

    public RebootFailureHandler(IToolRunner runner, IBootConsole console, string mountPoint = "/run/basalt/grubenv", Func<TimeSpan, CancellationToken, Task>? delay = null)
    {
        _runner = runner ?? throw new ArgumentNullException(nameof(runner));
        _console = console ?? throw new ArgumentNullException(nameof(console));
        _mountPoint = mountPoint;
        _delay = delay ?? Task.Delay;
    }

    public async Task HandleAsync(FailureAction action, string reason, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(action);
        if (action is { NextEntry: { } entry, EnvironmentDevice: { } device })
        {
            try
            {
                await PointGrubAtAsync(entry, device, action.EnvironmentFile, reason, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception exception) when (exception is BasaltException or IOException or UnauthorizedAccessException)
            {
                _console.Warn($"could not set next_entry={entry} in grubenv ({exception.Message}); GRUB's own fallback applies");
            }
        }

        _console.Error($"rebooting in {action.RebootDelay.TotalSeconds:0}s");
        await _delay(action.RebootDelay, cancellationToken).ConfigureAwait(false);
        await _runner.RunAsync(new ToolInvocation("reboot", ["-f"]), cancellationToken).ConfigureAwait(false);
    }

    private async Task PointGrubAtAsync(string entry, CommandLine.DeviceReference device, string environmentFile, string reason, CancellationToken cancellationToken)
    {
        var found = await _runner.RunAsync(new ToolInvocation("blkid", ["-c", "/dev/null", "-o", "device", "-t", device.Spec]) { Package = "util-linux" }, cancellationToken).ConfigureAwait(false);
        var node = found.StandardOutput.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Order(StringComparer.Ordinal).FirstOrDefault()
                   ?? throw new MountStepFailedException("failure-action", $"no device with {device.Spec}");
        Directory.CreateDirectory(_mountPoint);
        await _runner.RunAsync(new ToolInvocation("mount", ["-o", "rw", node, _mountPoint]) { Package = "mount" }, cancellationToken).ConfigureAwait(false);
        try
        {
            var path = _mountPoint.TrimEnd('/') + environmentFile;
            var environment = File.Exists(path) ? Grub.GrubEnvironment.Load(path) : Grub.GrubEnvironment.Create();
            environment.Set(Grub.GrubEnvironmentKeys.NextEntry, entry);
            environment.Set(Grub.GrubEnvironmentKeys.LastFailure, Truncate(reason, 200));
            environment.Save(path);
            _console.Info($"grubenv: next_entry={entry}");
        }
        finally
        {
            await _runner.RunAsync(new ToolInvocation("umount", [_mountPoint]) { Package = "mount" }, cancellationToken).ConfigureAwait(false);
        }
    }

    private static string Truncate(string text, int length) => text.Length <= length ? text : text[..length];
}
