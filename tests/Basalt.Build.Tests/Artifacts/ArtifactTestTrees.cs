using Basalt.Platform;

namespace Basalt.Build.Tests.Artifacts;

/// <summary>Tiny OS trees for disk builds: a dummy kernel and initramfs, a few files, optional GRUB module directory.</summary>
internal static class ArtifactTestTrees
{
    public static readonly DateTimeOffset SourceTime = new(2023, 6, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>A tree with /boot/vmlinuz and /boot/initrd (unless told otherwise) and some content.</summary>
    public static string Create(string parent, bool kernel = true, bool initrd = true)
    {
        var root = Path.Combine(parent, "rootfs");
        Directory.CreateDirectory(Path.Combine(root, "boot"));
        Directory.CreateDirectory(Path.Combine(root, "etc"));
        Directory.CreateDirectory(Path.Combine(root, "usr", "bin"));
        File.WriteAllText(Path.Combine(root, "etc", "os-release"), "ID=basalt-test\nNAME=\"Basalt test\"\n");
        File.WriteAllText(Path.Combine(root, "usr", "bin", "hello"), "#!/bin/sh\necho hello\n");
        if (kernel)
        {
            File.WriteAllText(Path.Combine(root, "boot", "vmlinuz-6.1.0-test"), "not a real kernel\n");
            File.CreateSymbolicLink(Path.Combine(root, "boot", "vmlinuz"), "vmlinuz-6.1.0-test");
        }

        if (initrd)
        {
            File.WriteAllText(Path.Combine(root, "boot", "initrd"), "not a real initramfs\n");
        }

        foreach (var entry in Directory.EnumerateFileSystemEntries(root, "*", SearchOption.AllDirectories).Append(root))
        {
            if (Posix.GetStatus(entry).Kind != UnixFileKind.SymbolicLink)
            {
                Posix.SetTimes(entry, SourceTime, SourceTime);
            }
        }

        return root;
    }

    /// <summary>A directory that looks like GRUB's module directory to the planner (unit tests only).</summary>
    public static string FakeGrubModules(string parent)
    {
        var directory = Path.Combine(parent, "grub-x86_64-efi");
        Directory.CreateDirectory(directory);
        File.WriteAllText(Path.Combine(directory, "moddep.lst"), "normal: boot\n");
        return directory;
    }
}

/// <summary>The real runner with some tools hidden, to prove a missing tool is caught before anything is written.</summary>
internal sealed class HidingToolRunner : IToolRunner
{
    private readonly IToolRunner _inner;
    private readonly HashSet<string> _hidden;

    public HidingToolRunner(IToolRunner inner, params string[] hidden)
    {
        _inner = inner;
        _hidden = new HashSet<string>(hidden, StringComparer.Ordinal);
    }

    public List<string> Calls { get; } = [];

    public string? Locate(string tool) => _hidden.Contains(tool) ? null : _inner.Locate(tool);

    public Task<ToolResult> RunAsync(ToolInvocation invocation, CancellationToken cancellationToken = default)
    {
        Calls.Add(invocation.CommandLine);
        if (_hidden.Contains(invocation.Tool))
        {
            throw new ToolNotFoundException(invocation.Tool, invocation.Package);
        }

        return _inner.RunAsync(invocation, cancellationToken);
    }
}
