using Basalt.Platform;

namespace Basalt.Build.Artifacts;

/// <summary>
/// The GRUB EFI loader of a Basalt disk: one <c>BOOTX64.EFI</c> made with <c>grub-mkimage</c>, every module the
/// stub and the menu use built in (the ESP carries no module directory), prefix <c>/EFI/BOOT</c> so it reads the
/// stub config beside it.
/// </summary>
public static class EfiLoader
{
    public const string Tool = "grub-mkimage";
    public const string Package = "grub-common";

    /// <summary>A file every GRUB module directory has; its presence marks a usable directory.</summary>
    public const string ModuleIndex = "moddep.lst";

    public const string Prefix = "/EFI/BOOT";
    public const string LoaderPath = "EFI/BOOT/BOOTX64.EFI";

    /// <summary>What the stub and the menu need: GPT, FAT and ext4, loop-mounted images (ext4 and squashfs), Linux, the env block, serial.</summary>
    public static IReadOnlyList<string> Modules { get; } =
    [
        "part_gpt", "part_msdos", "fat", "ext2", "loopback", "linux", "normal", "configfile", "search", "search_label",
        "search_fs_uuid", "search_fs_file", "echo", "test", "squash4", "serial", "terminal", "efi_gop", "all_video",
        "gzio", "regexp", "loadenv", "cat", "ls", "true", "sleep", "halt", "reboot",
    ];

    public static ToolInvocation Describe(string moduleDirectory, string output)
    {
        ArgumentException.ThrowIfNullOrEmpty(moduleDirectory);
        ArgumentException.ThrowIfNullOrEmpty(output);
        return new ToolInvocation(Tool, ["-O", "x86_64-efi", "-d", moduleDirectory, "-p", Prefix, "-o", output, .. Modules]) { Package = Package };
    }
}
