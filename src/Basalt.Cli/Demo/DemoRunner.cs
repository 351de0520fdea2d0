using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Basalt.Agent.Install;
using Basalt.Agent.Node;
using Basalt.Agent.Slots;
using Basalt.Build.Artifacts;
using Basalt.Build.Demo;
using Basalt.Build.Vm;
using Basalt.Cli.Hosting;
using Basalt.Cli.Progress;
using Basalt.Disk.Layout;
using Basalt.Oci.Images;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;
using Basalt.Platform;

namespace Basalt.Cli.Demo;

public enum DemoPhaseStatus
{
    Ok,
    Failed,
    Skipped,
    NotRun,
}

/// <summary>How one phase went.</summary>
public sealed record DemoPhaseResult(DemoStep Step, string Title, DemoPhaseStatus Status, TimeSpan Elapsed, string? Detail);

/// <summary>How the whole demo went: every phase, what the upgrade fetched, and the error that stopped it.</summary>
public sealed record DemoReport(IReadOnlyList<DemoPhaseResult> Phases, TimeSpan Elapsed, long? UpgradeBytesFetched, long? ImageBytes, string? Error, string? Hint, bool Cancelled)
{
    public bool Succeeded => Error is null && Phases.All(phase => phase.Status is DemoPhaseStatus.Ok or DemoPhaseStatus.Skipped);
}

/// <summary>
/// Carries out a <see cref="DemoPlan"/>, one phase after the other, each timed and reported on stderr as it runs, and
/// stops everything it started (the registry, the VM, the work directory, the cache lock) whatever happens, Ctrl-C
/// included. It lives in the CLI because it is the one place that sees both the builder (disk, VM, init) and the
/// agent's slot records the disk must carry.
/// </summary>
public sealed partial class DemoRunner : IAsyncDisposable
{
    private const string GuestHost = QemuCommandLine.HostFromGuest;
    private const string User = "root";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromMinutes(3);
    private static readonly TimeSpan HeartbeatInterval = TimeSpan.FromSeconds(30);

    private readonly DemoPlan _plan;
    private readonly IToolRunner _tools;
    private readonly CliConsole _console;
    private readonly string _basaltBinary;
    private readonly List<DemoPhaseResult> _results = [];
    private readonly bool _workDirectoryCreated;

    private FileStream? _cacheLock;
    private LocalRegistry? _registry;
    private RegistryClient? _registryClient;
    private VirtualMachine? _vm;
    private PushedImage? _v1;
    private PushedImage? _v2;
    private string? _baseRootfs;
    private long? _bytesFetched;

    public DemoRunner(DemoPlan plan, IToolRunner tools, CliConsole console, string basaltBinary)
    {
        ArgumentNullException.ThrowIfNull(plan);
        ArgumentNullException.ThrowIfNull(tools);
        ArgumentNullException.ThrowIfNull(console);
        _plan = plan;
        _tools = tools;
        _console = console;
        _basaltBinary = basaltBinary;
        _workDirectoryCreated = !Directory.Exists(plan.Options.WorkDirectory);
    }

    private TextWriter Progress => _console.Error;

    private string GuestRegistry => string.Create(CultureInfo.InvariantCulture, $"{GuestHost}:{_registry!.Port}");

    private string GuestReference(string tag) => $"{GuestRegistry}/{DemoPlan.Repository}:{tag}";

    public async Task<DemoReport> RunAsync(CancellationToken cancellationToken)
    {
        var total = Stopwatch.StartNew();
        string? error = null;
        string? hint = null;
        var cancelled = false;
        try
        {
            Directory.CreateDirectory(_plan.Options.WorkDirectory);
            for (var index = 0; index < _plan.Phases.Count; index++)
            {
                var phase = _plan.Phases[index];
                var header = string.Create(CultureInfo.InvariantCulture, $"[{index + 1}/{_plan.Phases.Count}] {phase.Title}");
                if (phase.Skipped)
                {
                    await Progress.WriteLineAsync($"{header}: skipped ({phase.SkippedBecause})").ConfigureAwait(false);
                    _results.Add(new DemoPhaseResult(phase.Step, phase.Title, DemoPhaseStatus.Skipped, TimeSpan.Zero, phase.SkippedBecause));
                    continue;
                }

                await Progress.WriteLineAsync(header).ConfigureAwait(false);
                var stopwatch = Stopwatch.StartNew();
                using var heartbeat = new CancellationTokenSource();
                // On a terminal, the phases that draw live bars go without heartbeat lines, which would break the redraw.
                var beating = _console.LiveProgress && phase.Step is DemoStep.PushV1 or DemoStep.PushV2 or DemoStep.Disk
                    ? Task.CompletedTask
                    : HeartbeatAsync(phase.Title, stopwatch, heartbeat.Token);
                try
                {
                    var detail = await RunPhaseAsync(phase.Step, cancellationToken).ConfigureAwait(false);
                    _results.Add(new DemoPhaseResult(phase.Step, phase.Title, DemoPhaseStatus.Ok, stopwatch.Elapsed, detail));
                    await Progress.WriteLineAsync($"      ok in {DemoRunner.Elapsed(stopwatch.Elapsed)}{(detail is null ? string.Empty : ": " + detail)}").ConfigureAwait(false);
                }
                catch (Exception exception) when (exception is not OutOfMemoryException)
                {
                    cancelled = exception is OperationCanceledException && cancellationToken.IsCancellationRequested;
                    error = cancelled ? "cancelled" : exception is BasaltException ? exception.Message : $"{exception.GetType().Name}: {exception.Message}";
                    hint = (exception as BasaltException)?.Hint;
                    _results.Add(new DemoPhaseResult(phase.Step, phase.Title, DemoPhaseStatus.Failed, stopwatch.Elapsed, error));
                    await Progress.WriteLineAsync($"      FAILED after {DemoRunner.Elapsed(stopwatch.Elapsed)}: {error}").ConfigureAwait(false);
                    if (_console.Verbose)
                    {
                        await Progress.WriteLineAsync(exception.ToString()).ConfigureAwait(false);
                    }

                    foreach (var rest in _plan.Phases.Skip(index + 1))
                    {
                        _results.Add(new DemoPhaseResult(rest.Step, rest.Title, DemoPhaseStatus.NotRun, TimeSpan.Zero, null));
                    }

                    break;
                }
                finally
                {
                    await heartbeat.CancelAsync().ConfigureAwait(false);
                    await beating.ConfigureAwait(false);
                }
            }
        }
        finally
        {
            await StopEverythingAsync().ConfigureAwait(false);
        }

        return new DemoReport(_results, total.Elapsed, _bytesFetched, _v2?.TotalBytes, error, hint, cancelled);
    }

    public async ValueTask DisposeAsync() => await StopEverythingAsync().ConfigureAwait(false);

    private Task<string?> RunPhaseAsync(DemoStep step, CancellationToken cancellationToken) => step switch
    {
        DemoStep.Packages => PackagesAsync(cancellationToken),
        DemoStep.Base => BaseAsync(cancellationToken),
        DemoStep.Init => InitAsync(cancellationToken),
        DemoStep.Registry => RegistryAsync(cancellationToken),
        DemoStep.PushV1 => PushV1Async(cancellationToken),
        DemoStep.PushV2 => PushV2Async(cancellationToken),
        DemoStep.Disk => DiskAsync(cancellationToken),
        DemoStep.BootV1 => BootV1Async(cancellationToken),
        DemoStep.Upgrade => UpgradeAsync(cancellationToken),
        DemoStep.RebootV2 => RebootAsync(cancellationToken),
        DemoStep.PowerOff => PowerOffAsync(cancellationToken),
        _ => throw new ArgumentOutOfRangeException(nameof(step), step, "not a demo step"),
    };

    private async Task<string?> PackagesAsync(CancellationToken cancellationToken)
    {
        if (_plan.PackagesToInstall.Count == 0)
        {
            return "every tool is there";
        }

        foreach (var command in DemoRequirements.InstallCommands(_plan.PackagesToInstall))
        {
            await Progress.WriteLineAsync($"      {command.CommandLine}").ConfigureAwait(false);
            await _tools.RunAsync(command with { StandardInput = Stream.Null }, cancellationToken).ConfigureAwait(false);
        }

        return $"installed {string.Join(' ', _plan.PackagesToInstall)}";
    }

    private async Task<string?> BaseAsync(CancellationToken cancellationToken)
    {
        _cacheLock = await DemoOsTree.LockAsync(_plan.OsTreeCacheDirectory, TimeSpan.FromHours(1), cancellationToken).ConfigureAwait(false);
        var built = await new DemoOsTree(_tools).EnsureBaseAsync(_plan.BaseCacheDirectory, _plan.Options.Mirror, cancellationToken).ConfigureAwait(false);
        _baseRootfs = built.Path;
        return built.Reused ? $"reused {built.Path}" : $"built {built.Path}";
    }

    private async Task<string?> InitAsync(CancellationToken cancellationToken)
    {
        var reused = await new DemoOsTree(_tools).EnsureTreeAsync(_plan.OsTreeDirectory, _baseRootfs!, _basaltBinary, _plan.Options.RootPassword, cancellationToken).ConfigureAwait(false);
        return reused ? $"reused {_plan.OsTreeDirectory} (made by this basalt)" : $"made {_plan.OsTreeDirectory}";
    }

    private async Task<string?> RegistryAsync(CancellationToken cancellationToken)
    {
        _registry = await LocalRegistry.StartAsync(_plan.RegistryDirectory, _plan.Options.RegistryPort, _tools, cancellationToken).ConfigureAwait(false);
        _registryClient = new RegistryClient(new RegistryOptions { InsecureRegistries = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { _registry.Host } });
        return $"docker-registry on {_registry.Host} (pid {_registry.ProcessId}); the guest reaches it as {GuestRegistry}";
    }

    private LayeredImages Images() => new(_registryClient!, $"{_registry!.Host}/{DemoPlan.Repository}", _plan.LayersDirectory);

    private async Task<string?> PushV1Async(CancellationToken cancellationToken)
    {
        // The node's blob store on COS_PERSISTENT: the layer pushed here is already on the node, so the upgrade fetches only v2's.
        var store = new BlobStore(new NodePaths { PersistentMount = _plan.PersistentContentDirectory }.BlobStore);
        if (_plan.OwnsOsTree && store.TryGetReference(DemoOsTree.CachedV1Reference, out var cached) && store.Contains(cached))
        {
            using (var reporter = TransferReporter.For(_console))
            {
                _v1 = await Images().PushStoredAsync(store, cached, "v1", reporter, cancellationToken).ConfigureAwait(false);
            }

            return $"{_v1.Reference} {_v1.Digest.Short}, {Units.Bytes(_v1.TotalBytes)}, pushed from the cached layer of this tree";
        }

        await Progress.WriteLineAsync("      writing the tree as a gzip layer (the longest part of this phase)").ConfigureAwait(false);
        using (var reporter = TransferReporter.For(_console))
        {
            _v1 = await Images().PushTreeAsync(_plan.OsTreeDirectory, "v1", store, reporter, cancellationToken).ConfigureAwait(false);
        }

        if (_plan.OwnsOsTree)
        {
            store.SetReference(DemoOsTree.CachedV1Reference, _v1.Digest);
        }

        return $"{_v1.Reference} {_v1.Digest.Short}, {Units.Bytes(_v1.TotalBytes)}";
    }

    private async Task<string?> PushV2Async(CancellationToken cancellationToken)
    {
        var tree = Path.Combine(_plan.LayersDirectory, "v2-tree");
        var marker = Path.Combine(tree, DemoPlan.MarkerPath.TrimStart('/'));
        Directory.CreateDirectory(Path.GetDirectoryName(marker)!);
        await File.WriteAllTextAsync(marker, DemoPlan.MarkerContent + "\n", cancellationToken).ConfigureAwait(false);
        using (var reporter = TransferReporter.For(_console))
        {
            _v2 = await Images().PushWithLayerAsync(_v1!, tree, "v2", $"basalt demo: add {DemoPlan.MarkerPath}", reporter, cancellationToken).ConfigureAwait(false);
        }

        return $"{_v2.Reference} {_v2.Digest.Short}, new layer {Units.Bytes(_v2.Layers[^1].Size)}";
    }

    private async Task<string?> DiskAsync(CancellationToken cancellationToken)
    {
        var how = "built";
        if (_plan.DiskCacheDirectory is { } directory)
        {
            var stamp = DemoOsTree.ReadStamp(_plan.OsTreeDirectory) ?? throw new DemoCheckFailedException("the demo's OS tree", $"{_plan.OsTreeDirectory} has no {DemoOsTree.StampName} beside it");
            var cache = new DemoDiskCache(directory);
            var reused = await cache.CopyToAsync(DemoDiskCache.Key(_v1!.Digest.Value, _plan.Options.DiskBytes, stamp), _plan.DiskPath, BuildDiskAsync, cancellationToken).ConfigureAwait(false);
            how = reused ? $"copied from the cached disk {cache.DiskPath}" : $"built (kept as {cache.DiskPath} for the next run)";
        }
        else
        {
            await BuildDiskAsync(_plan.DiskPath, cancellationToken).ConfigureAwait(false);
        }

        var written = DateTimeOffset.UtcNow;
        var v1 = GuestReference("v1");
        // The disk's three images are made from v1's tree; the names are the ones the guest reaches the registry by.
        var slots = InstallSlots.Describe(v1, _v1!.Digest.Value, _v1.ConfigDocument.Created, written);
        var state = OfflineExt4Partition.Open(_tools, _plan.DiskPath, KairosLayout.StateLabel);
        await state.WriteFileAsync("/cOS/slots.json", SlotStore.Serialize(slots), cancellationToken).ConfigureAwait(false);
        var disk = Posix.GetStatus(_plan.DiskPath);
        return $"{_plan.DiskPath} {how}, {Units.Bytes(disk.Size)} ({Units.Bytes(disk.AllocatedBytes)} allocated); every slot recorded as {v1}";
    }

    private async Task BuildDiskAsync(string output, CancellationToken cancellationToken)
    {
        using var reporter = TransferReporter.For(_console);
        await new DiskArtifactBuilder(_tools, progress: reporter).BuildAsync(new DiskArtifactOptions
        {
            RootDirectory = _plan.OsTreeDirectory,
            OutputPath = output,
            SizeBytes = _plan.Options.DiskBytes,
            PersistentContentDirectory = _plan.PersistentContentDirectory,
            WorkDirectory = Path.Combine(_plan.Options.WorkDirectory, "disk-work"),
        }, cancellationToken).ConfigureAwait(false);
    }

    private async Task<string?> BootV1Async(CancellationToken cancellationToken)
    {
        var spec = new VmSpec
        {
            Drives = [new VmDrive(_plan.DiskPath)],
            MemoryMiB = _plan.Options.MemoryMiB,
            Cpus = _plan.Options.Cpus,
            Network = true,
            Accelerator = VmAccelerator.Tcg,
        };
        _vm = VirtualMachine.Start(spec, _plan.VmDirectory, _tools);
        await Progress.WriteLineAsync($"      QEMU (TCG) started; serial console log: {Path.Combine(_plan.VmDirectory, "console.log")}").ConfigureAwait(false);
        await LoginAsync(0, cancellationToken).ConfigureAwait(false);
        await ShowStateAsync("v1", cancellationToken).ConfigureAwait(false);
        var state = await StateJsonAsync(cancellationToken).ConfigureAwait(false);
        ExpectSlot(state, SlotNames.Active, GuestReference("v1"), _v1!.Digest.Value, "the v1 node's active slot");
        return "logged in on the serial console; v1 is active";
    }

    private async Task<string?> UpgradeAsync(CancellationToken cancellationToken)
    {
        await CheckAsync("(for i in $(seq 90); do ip -4 addr show | grep -q 'inet 10\\.0\\.2\\.' && exit 0; sleep 2; done; exit 1)", "the guest gets an address on the QEMU user network", cancellationToken).ConfigureAwait(false);
        var command = $"basalt --insecure-registry {GuestRegistry} upgrade --source oci:{GuestReference("v2")} --output json >/usr/local/basalt-demo-upgrade.json 2>/usr/local/basalt-demo-upgrade.err";
        await Progress.WriteLineAsync($"      guest# {command}").ConfigureAwait(false);
        var run = await _vm!.RunAsync(command, _plan.Options.UpgradeTimeout, cancellationToken).ConfigureAwait(false);
        if (run.ExitCode != 0)
        {
            var errors = await _vm.RunAsync("tail -c 2000 /usr/local/basalt-demo-upgrade.err", CommandTimeout, cancellationToken).ConfigureAwait(false);
            throw new DemoCheckFailedException("basalt upgrade in the guest", $"exited {run.ExitCode}: {errors.Output.Trim()}");
        }

        var json = await CheckAsync("cat /usr/local/basalt-demo-upgrade.json", "the upgrade wrote its JSON result", cancellationToken).ConfigureAwait(false);
        var result = ParseJson(json, "basalt upgrade");
        var outcome = result.TryGetProperty("outcome", out var o) ? o.GetString() : null;
        if (outcome != "upgraded")
        {
            throw new DemoCheckFailedException("basalt upgrade in the guest", $"outcome '{outcome}', not 'upgraded': {json}");
        }

        _bytesFetched = result.TryGetProperty("bytesTransferred", out var bytes) ? bytes.GetInt64() : null;
        var blobs = result.TryGetProperty("blobsTransferred", out var b) ? b.GetInt32() : 0;
        var skipped = result.TryGetProperty("blobsSkipped", out var s) ? s.GetInt32() : 0;
        return string.Create(CultureInfo.InvariantCulture, $"upgraded; fetched {Units.Bytes(_bytesFetched ?? 0)} ({blobs} blobs; {skipped} already on the node) of a {Units.Bytes(_v2!.TotalBytes)} image");
    }

    private async Task<string?> RebootAsync(CancellationToken cancellationToken)
    {
        var offset = _vm!.ConsoleLength;
        await _vm.TypeAsync("reboot\n", cancellationToken).ConfigureAwait(false);
        await LoginAsync(offset, cancellationToken).ConfigureAwait(false);
        var marker = await CheckAsync($"cat {DemoPlan.MarkerPath}", "the v2 marker is there", cancellationToken).ConfigureAwait(false);
        if (marker.Trim() != DemoPlan.MarkerContent)
        {
            throw new DemoCheckFailedException("after the reboot", $"{DemoPlan.MarkerPath} says '{marker.Trim()}', not '{DemoPlan.MarkerContent}'");
        }

        await CheckAsync("systemctl start basalt-boot-complete.service", "the v2 boot passes its health gate", cancellationToken).ConfigureAwait(false);
        await ShowStateAsync("v2", cancellationToken).ConfigureAwait(false);
        var state = await StateJsonAsync(cancellationToken).ConfigureAwait(false);
        ExpectSlot(state, SlotNames.Active, GuestReference("v2"), _v2!.Digest.Value, "after the upgrade, the active slot");
        ExpectSlot(state, SlotNames.Passive, GuestReference("v1"), _v1!.Digest.Value, "after the upgrade, the passive slot");
        return $"v2 active, v1 passive, {DemoPlan.MarkerPath} present, boot marked good";
    }

    private async Task<string?> PowerOffAsync(CancellationToken cancellationToken)
    {
        await _vm!.TypeAsync("poweroff\n", cancellationToken).ConfigureAwait(false);
        var exit = await _vm.WaitForExitAsync(TimeSpan.FromMinutes(3), cancellationToken).ConfigureAwait(false);
        return string.Create(CultureInfo.InvariantCulture, $"the guest powered off (QEMU exit {exit})");
    }

    /// <summary>Logs in, but stops at once when the boot visibly failed instead of waiting out the timeout.</summary>
    private async Task LoginAsync(int offset, CancellationToken cancellationToken)
    {
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var login = _vm!.LoginAsync(User, _plan.Options.RootPassword, _plan.Options.BootTimeout, offset, linked.Token);
        var failure = _vm.WaitForAsync(BootFailure(), _plan.Options.BootTimeout, offset, linked.Token);
        var first = await Task.WhenAny(login, failure).ConfigureAwait(false);
        await linked.CancelAsync().ConfigureAwait(false);
        if (first == failure && failure.IsCompletedSuccessfully)
        {
            throw new DemoCheckFailedException("the node did not boot", failure.Result.Value.Trim());
        }

        await login.ConfigureAwait(false);
        try
        {
            await failure.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (VmTimeoutException)
        {
        }

        await CheckAsync("dmesg -n 1", "kernel messages stay off the console", cancellationToken).ConfigureAwait(false);
        await Progress.WriteLineAsync($"      logged in as {User} on the serial console").ConfigureAwait(false);
    }

    private async Task ShowStateAsync(string when, CancellationToken cancellationToken)
    {
        var text = await CheckAsync("basalt state", "basalt state answers", cancellationToken).ConfigureAwait(false);
        _console.WriteText($"basalt state on the node ({when}):");
        foreach (var line in text.Split('\n'))
        {
            _console.WriteText("  " + line.TrimEnd());
        }
    }

    private async Task<JsonElement> StateJsonAsync(CancellationToken cancellationToken) =>
        ParseJson(await CheckAsync("basalt state --output json", "basalt state answers in JSON", cancellationToken).ConfigureAwait(false), "basalt state");

    private async Task<string> CheckAsync(string command, string what, CancellationToken cancellationToken)
    {
        var result = await _vm!.RunAsync(command, CommandTimeout, cancellationToken).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new DemoCheckFailedException(what, $"'{command}' exited {result.ExitCode}: {result.Output.Trim()}");
        }

        return result.Output;
    }

    private static JsonElement ParseJson(string text, string what)
    {
        var start = text.IndexOf('{', StringComparison.Ordinal);
        var end = text.LastIndexOf('}');
        if (start < 0 || end <= start)
        {
            throw new DemoCheckFailedException(what, $"printed no JSON document: {text.Trim()}");
        }

        try
        {
            using var document = JsonDocument.Parse(text[start..(end + 1)]);
            return document.RootElement.Clone();
        }
        catch (JsonException exception)
        {
            throw new DemoCheckFailedException(what, $"printed JSON that does not parse ({exception.Message})");
        }
    }

    private static void ExpectSlot(JsonElement state, string slot, string reference, string digest, string what)
    {
        var entry = state.TryGetProperty("slots", out var slots) && slots.ValueKind == JsonValueKind.Array
            ? slots.EnumerateArray().FirstOrDefault(s => s.TryGetProperty("slot", out var name) && name.GetString() == slot)
            : default;
        var matches = entry.ValueKind == JsonValueKind.Object
            && entry.TryGetProperty("imageReference", out var image) && image.GetString() == reference
            && entry.TryGetProperty("digest", out var recorded) && recorded.GetString() == digest;
        if (!matches)
        {
            throw new DemoCheckFailedException(what, $"expected {reference} ({digest}), basalt state says {(entry.ValueKind == JsonValueKind.Object ? entry.ToString() : "nothing")}");
        }
    }

    private async Task HeartbeatAsync(string title, Stopwatch stopwatch, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(HeartbeatInterval, cancellationToken).ConfigureAwait(false);
                await Progress.WriteLineAsync($"      ... {title}: {DemoRunner.Elapsed(stopwatch.Elapsed)}").ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task StopEverythingAsync()
    {
        if (_vm is { } vm)
        {
            _vm = null;
            await vm.DisposeAsync().ConfigureAwait(false);
        }

        _registryClient?.Dispose();
        _registryClient = null;
        if (_registry is { } registry)
        {
            _registry = null;
            await registry.DisposeAsync().ConfigureAwait(false);
        }

        if (_cacheLock is { } cacheLock)
        {
            _cacheLock = null;
            await cacheLock.DisposeAsync().ConfigureAwait(false);
        }

        await RemoveWorkAsync().ConfigureAwait(false);
    }

    /// <summary>The work directory goes (or, when the caller gave an existing one, what this run made in it).</summary>
    private async Task RemoveWorkAsync()
    {
        var work = _plan.Options.WorkDirectory;
        var made = _workDirectoryCreated
            ? [work]
            : new[] { _plan.DiskPath, _plan.RegistryDirectory, _plan.VmDirectory, _plan.LayersDirectory, Path.Combine(work, "persistent"), Path.Combine(work, "disk-work") };
        foreach (var path in made)
        {
            try
            {
                if (File.Exists(path))
                {
                    File.Delete(path);
                }
                else if (Directory.Exists(path))
                {
                    await _tools.RunAsync(new ToolInvocation("rm", ["-rf", "--one-file-system", path]) { Package = "coreutils" }, CancellationToken.None).ConfigureAwait(false);
                }
            }
            catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or ToolFailedException)
            {
                await Progress.WriteLineAsync($"basalt demo: could not remove {path}: {exception.Message}").ConfigureAwait(false);
            }
        }
    }

    /// <summary>12.3s, 4m05s, 1h02m03s: a phase's time at a glance.</summary>
    public static string Elapsed(TimeSpan duration)
    {
        if (duration < TimeSpan.FromMinutes(1))
        {
            return string.Create(CultureInfo.InvariantCulture, $"{Math.Max(0, duration.TotalSeconds):0.0}s");
        }

        var seconds = (long)Math.Round(duration.TotalSeconds);
        return seconds >= 3600
            ? string.Create(CultureInfo.InvariantCulture, $"{seconds / 3600}h{seconds / 60 % 60:00}m{seconds % 60:00}s")
            : string.Create(CultureInfo.InvariantCulture, $"{seconds / 60}m{seconds % 60:00}s");
    }

    [GeneratedRegex(@"basalt: the boot cannot go on.*|Kernel panic.*")]
    private static partial Regex BootFailure();
}
