using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using Basalt.Platform;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Basalt.Build.Vm;

/// <summary>
/// Carries out a <see cref="VmLaunchPlan"/>: checks the host (firmware, tools, ports), makes the overlay or blank
/// disk and the firmware variables in the work directory, runs QEMU on this terminal (its serial console is
/// stdin/stdout) until the guest powers off or the command is cancelled, then removes the work directory.
/// </summary>
public sealed class VmLauncher
{
    public const string QemuPackage = "qemu-system-x86";
    public const string QemuUtilsPackage = "qemu-utils";

    private readonly IToolRunner _runner;
    private readonly ILogger _logger;

    public VmLauncher(IToolRunner runner, ILogger? logger = null)
    {
        ArgumentNullException.ThrowIfNull(runner);
        _runner = runner;
        _logger = logger ?? NullLogger.Instance;
    }

    /// <summary>Everything that can be known wrong before a file is made. Writes nothing.</summary>
    public void Preflight(VmLaunchPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (!File.Exists(plan.Spec.OvmfCodePath) || !File.Exists(plan.Spec.OvmfVarsTemplatePath))
        {
            throw new FirmwareMissingException(File.Exists(plan.Spec.OvmfCodePath) ? plan.Spec.OvmfVarsTemplatePath : plan.Spec.OvmfCodePath);
        }

        foreach (var (tool, package) in RequiredTools(plan))
        {
            if (_runner.Locate(tool) is null)
            {
                throw new ToolNotFoundException(tool, package);
            }
        }

        EnsurePortsFree(plan.Spec.PortForwards);
    }

    /// <summary>The tools the plan runs, with their Debian packages.</summary>
    public static IReadOnlyList<(string Tool, string Package)> RequiredTools(VmLaunchPlan plan)
    {
        ArgumentNullException.ThrowIfNull(plan);
        var tools = new List<(string, string)> { (QemuCommandLine.Binary, QemuPackage), ("qemu-img", QemuUtilsPackage) };
        if (plan.OemInjection is not null)
        {
            tools.Add(("debugfs", "e2fsprogs"));
            tools.Add(("qemu-io", QemuUtilsPackage));
        }

        return tools;
    }

    /// <summary>Binds each host port on 127.0.0.1 and lets it go: QEMU would otherwise fail late and obscurely.</summary>
    public static void EnsurePortsFree(IEnumerable<PortForward> forwards)
    {
        ArgumentNullException.ThrowIfNull(forwards);
        foreach (var forward in forwards)
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                probe.Bind(new IPEndPoint(IPAddress.Loopback, forward.HostPort));
            }
            catch (SocketException exception)
            {
                throw new PortInUseException(forward.HostPort, exception.Message);
            }
        }
    }

    /// <summary>Prepares and boots; returns QEMU's exit code when the guest powers off.</summary>
    public async Task<int> RunAsync(VmLaunchPlan plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        Preflight(plan);
        var work = plan.Options.WorkDirectory;
        var created = !Directory.Exists(work);
        Directory.CreateDirectory(work);
        try
        {
            await PrepareAsync(plan, cancellationToken).ConfigureAwait(false);
            await using var server = await StartNetbootServerAsync(plan, cancellationToken).ConfigureAwait(false);
            var arguments = plan.QemuArgumentsFor(server is null ? plan.Spec : plan.SpecServedOn(server.BaseUrl.Port));
            var invocation = new ToolInvocation(QemuCommandLine.Binary, arguments) { Package = QemuPackage };
            return await AttachedProcess.RunAsync(invocation, _runner, _logger, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Clean(plan, work, created);
        }
    }

    /// <summary>Serves a netboot directory (on a free port of 127.0.0.1) for as long as the VM runs; null when the plan needs no server.</summary>
    private async Task<Netboot.NetbootServer?> StartNetbootServerAsync(VmLaunchPlan plan, CancellationToken cancellationToken)
    {
        if (plan.NetbootServing is not { } serving)
        {
            return null;
        }

        var options = new Netboot.NetbootServerOptions
        {
            Directory = serving.Directory,
            CloudConfigFile = serving.CloudConfigPath,
            Listen = new IPEndPoint(IPAddress.Loopback, 0),
        };
        var server = await Netboot.NetbootServer.StartAsync(
            options,
            fetch => _logger.LogInformation("netboot: {Client} {Method} {Path} -> {Status}", fetch.Client, fetch.Method, fetch.Path, fetch.Status),
            cancellationToken).ConfigureAwait(false);
        _logger.LogInformation("serving {Directory} at {Url} for the VM", serving.Directory, server.BaseUrl);
        return server;
    }

    /// <summary>The firmware variables, the overlay or blank disk and the cloud-config: everything but QEMU itself.</summary>
    public async Task PrepareAsync(VmLaunchPlan plan, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(plan);
        Directory.CreateDirectory(plan.Options.WorkDirectory);
        File.Copy(plan.Spec.OvmfVarsTemplatePath, plan.VarsPath, overwrite: true);
        foreach (var disk in plan.PreparedDisks)
        {
            await _runner.RunAsync(new ToolInvocation("qemu-img", disk.QemuImgArguments) { Package = QemuUtilsPackage }, cancellationToken).ConfigureAwait(false);
        }

        if (plan.OemInjection is { } injection)
        {
            var overlay = plan.PreparedDisks[0].Path;
            await InjectAsync(plan.Artifact.Path, overlay, injection, plan.Options.WorkDirectory, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task InjectAsync(string artifact, string overlay, VmOemInjection injection, string work, CancellationToken cancellationToken)
    {
        var oem = Path.Combine(work, "oem.img");
        await CopyRangeAsync(artifact, oem, injection.PartitionOffsetBytes, injection.PartitionSizeBytes, cancellationToken).ConfigureAwait(false);

        var target = "/" + injection.FileName;
        var script = $"rm \"{target}\"\nwrite \"{injection.CloudConfigPath}\" \"{target}\"\nset_inode_field \"{target}\" mode 0100600\n";
        var result = await _runner.RunAsync(new ToolInvocation("debugfs", ["-w", "-f", "-", oem])
        {
            Package = "e2fsprogs",
            StandardInput = new MemoryStream(Encoding.UTF8.GetBytes(script)),
        }, cancellationToken).ConfigureAwait(false);
        // debugfs exits 0 whatever happens; a failed write shows on stderr (the rm of a file not there is expected).
        var complaints = result.StandardError.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(line => !line.StartsWith("debugfs ", StringComparison.Ordinal) && !line.Contains("File not found", StringComparison.Ordinal))
            .ToList();
        if (complaints.Count > 0)
        {
            throw new Artifacts.OfflineEditException($"could not write the cloud-config into the copy of COS_OEM: {string.Join("; ", complaints)}", "check that the artifact is a Basalt disk");
        }

        var write = string.Create(CultureInfo.InvariantCulture, $"write -q -s {oem} {injection.PartitionOffsetBytes} {injection.PartitionSizeBytes}");
        await _runner.RunAsync(new ToolInvocation("qemu-io", ["-f", "qcow2", "-c", write, overlay]) { Package = QemuUtilsPackage }, cancellationToken).ConfigureAwait(false);
        File.Delete(oem);
    }

    private static async Task CopyRangeAsync(string source, string destination, long offset, long length, CancellationToken cancellationToken)
    {
        var input = new FileStream(source, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1 << 20, useAsync: true);
        await using (input.ConfigureAwait(false))
        {
            var output = new FileStream(destination, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 20, useAsync: true);
            await using (output.ConfigureAwait(false))
            {
                input.Seek(offset, SeekOrigin.Begin);
                var buffer = new byte[1 << 20];
                var left = length;
                while (left > 0)
                {
                    var read = await input.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, left)), cancellationToken).ConfigureAwait(false);
                    if (read == 0)
                    {
                        throw new Artifacts.OfflineEditException($"'{source}' ends inside its COS_OEM partition", "the disk is truncated: rebuild it");
                    }

                    await output.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
                    left -= read;
                }
            }
        }
    }

    private void Clean(VmLaunchPlan plan, string work, bool created)
    {
        try
        {
            if (created)
            {
                Directory.Delete(work, recursive: true);
                return;
            }

            // A work directory the caller gave keeps everything but what this run made.
            foreach (var path in plan.PreparedDisks.Select(disk => disk.Path).Append(plan.VarsPath).Append(Path.Combine(work, "oem.img")))
            {
                File.Delete(path);
            }
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException)
        {
            _logger.LogWarning("could not remove the VM's work files in {Path}: {Message}", work, exception.Message);
        }
    }
}
