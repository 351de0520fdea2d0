using Basalt.Config;
using Basalt.Config.Stages;
using Basalt.Platform;

namespace Basalt.Boot.Mounting;

/// <summary>The file operations the mounter needs, apart so the executor can be tested without root.</summary>
public interface IBootFiles
{
    /// <summary>True for any directory entry, a dangling symlink included (<c>/sbin/init</c> in the new root is often one).</summary>
    bool Exists(string path);
    bool DirectoryExists(string path);
    void CreateDirectory(string path);
    void DeleteDirectory(string path);
    void MoveDirectory(string source, string destination);
    /// <summary>Writes the file whole (temporary sibling, fsync, rename), creating its directory.</summary>
    void WriteAllText(string path, string content);
    /// <summary>Bind-mounts the directory <paramref name="source"/> on the existing directory <paramref name="target"/>.</summary>
    void BindMount(string source, string target);
}

/// <summary>Where the mounter reports progress: in the initramfs, the kernel log and so the console.</summary>
public interface IBootConsole
{
    void Info(string message);
    void Warn(string message);
    void Error(string message);
}

/// <summary>Runs a cloud-config stage during boot against the new root (the stage runner itself lives in Basalt.Config).</summary>
public interface IStageRunner
{
    /// <param name="stage">The stage, e.g. <c>rootfs</c>; its <c>.before</c> and <c>.after</c> run with it.</param>
    /// <param name="root">The new root the stage acts on and whose scan directories hold the config.</param>
    /// <param name="commandLine">The kernel command line of this boot, merged last into the config.</param>
    Task RunAsync(string stage, string root, string commandLine, CancellationToken cancellationToken = default);
}

/// <summary>Reads the layout settings of the cloud-config found under the new root, at the end of the first phase.</summary>
public interface IBootConfigReader
{
    /// <summary>
    /// The settings of the config collected under <paramref name="root"/> plus the kernel command line.
    /// Never throws for a bad config: what could not be read or used is in <see cref="ConfigLayoutSettings.Problems"/>.
    /// </summary>
    Task<ConfigLayoutSettings> ReadLayoutAsync(string root, string commandLine, CancellationToken cancellationToken = default);
}

/// <summary>What is done when a required step fails: point GRUB at the next entry and reboot; never hang.</summary>
public interface IBootFailureHandler
{
    Task HandleAsync(FailureAction action, string reason, CancellationToken cancellationToken = default);
}

/// <summary>The host's filesystem.</summary>
public sealed class HostBootFiles : IBootFiles
{
    public bool Exists(string path) => File.Exists(path) || Directory.Exists(path) || new FileInfo(path).LinkTarget is not null;

    public bool DirectoryExists(string path) => Directory.Exists(path);

    public void CreateDirectory(string path) => Directory.CreateDirectory(path);

    public void DeleteDirectory(string path) => Directory.Delete(path, recursive: true);

    public void MoveDirectory(string source, string destination)
    {
        Directory.Move(source, destination);
        Posix.SyncParent(destination);
    }

    public void WriteAllText(string path, string content)
    {
        var directory = Path.GetDirectoryName(path);
        if (!string.IsNullOrEmpty(directory))
        {
            Directory.CreateDirectory(directory);
        }

        AtomicFile.WriteAllText(path, content);
    }

    public void BindMount(string source, string target) => Posix.BindMount(source, target);
}

/// <summary>
/// Writes to the kernel log (<c>/dev/kmsg</c>, shown on every <c>console=</c>) and to stderr.
/// Best effort: a console that cannot be written must not stop the boot.
/// </summary>
public sealed class KernelLogConsole : IBootConsole
{
    private readonly string _kmsgPath;
    private readonly TextWriter _error;

    public KernelLogConsole(string kmsgPath = "/dev/kmsg", TextWriter? error = null)
    {
        _kmsgPath = kmsgPath;
        _error = error ?? Console.Error;
    }

    public void Info(string message) => Write(6, message);

    public void Warn(string message) => Write(4, message);

    public void Error(string message) => Write(2, message);

    private void Write(int priority, string message)
    {
        var line = $"basalt: {message}";
        _error.WriteLine(line);
        try
        {
            // One write per record: /dev/kmsg takes each write() as one log line.
            using var kmsg = new FileStream(_kmsgPath, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
            if (kmsg.CanSeek)
            {
                // A regular file standing in for the kernel log (tests, a log file): append.
                kmsg.Seek(0, SeekOrigin.End);
            }

            kmsg.Write(System.Text.Encoding.UTF8.GetBytes($"<{priority}>{line}\n"));
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>
/// Runs a boot stage inside the mounter's own process with the node's config, collected under the new root as
/// <see cref="CloudConfigReader"/> collects it (<c>config_url</c> only in a netboot, the one boot with a network here). A second process per
/// stage would start the runtime again, which costs whole seconds on a slow machine; a stage that fails or
/// throws is reported by the executor and never stops the boot, because the plan marks stage steps optional.
/// </summary>
public sealed class ConfigStageRunner : IStageRunner
{
    private readonly ConfigStages _stages;
    private readonly IBootConsole _console;

    public ConfigStageRunner(ConfigStages stages, IBootConsole console)
    {
        _stages = stages ?? throw new ArgumentNullException(nameof(stages));
        _console = console ?? throw new ArgumentNullException(nameof(console));
    }

    public async Task RunAsync(string stage, string root, string commandLine, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(stage);
        ArgumentException.ThrowIfNullOrEmpty(root);
        var run = await _stages.RunAsync(stage, CloudConfigReader.Options(root, commandLine ?? string.Empty), new StageRunOptions { Root = root }, cancellationToken).ConfigureAwait(false);
        var result = run.Run;
        foreach (var warning in result.Warnings)
        {
            _console.Warn($"stage {stage}: {warning}");
        }

        if (!result.Succeeded)
        {
            throw new BootStageFailedException(stage, [.. result.SourceErrors, .. result.Failed.Select(step => $"{step.Source} {step.Step}: {string.Join("; ", step.Errors)}")]);
        }

        _console.Info(result.Steps.Count == 0 ? $"stage {stage}: no steps" : $"stage {stage}: ran {result.Steps.Count} step(s)");
    }
}
