using Basalt.Agent.Install;
using Basalt.Agent.Slots;
using Basalt.Build.Artifacts;
using Basalt.Cli.Hosting;
using Basalt.Oci.Images;
using Basalt.Platform;

namespace Basalt.Cli.Commands;

/// <summary>
/// The artifact builders work from a tree. Given an IMAGE instead of <c>--root</c>, they build from the image unpacked
/// beside the output (the same filesystem as their work files), which is removed afterwards whatever happened. The
/// build is also told what was unpacked (name, digest, build date), so it can record which image its artifact holds.
/// </summary>
internal static class UnpackedImage
{
    public static async Task<int> BuildFromAsync(CommandContext context, string imageText, string outputPath, Func<string, UnpackResult, Task<int>> build, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(build);
        var unpacked = Path.Combine(Path.GetDirectoryName(outputPath) ?? "/", $".{Path.GetFileName(outputPath)}.rootfs-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            var services = context.GetServices<CliServices>();
            var result = await services.Images.UnpackAsync(CommandInputs.Source(imageText), unpacked, CommandInputs.Platform(context.Settings), cancellationToken: cancellationToken).ConfigureAwait(false);
            return await build(unpacked, result).ConfigureAwait(false);
        }
        finally
        {
            if (Directory.Exists(unpacked))
            {
                await new ToolRunner().RunAsync(new ToolInvocation("rm", ["-rf", "--one-file-system", unpacked]) { Package = "coreutils" }, CancellationToken.None).ConfigureAwait(false);
            }
        }
    }

    /// <summary>
    /// A live medium (ISO, netboot directory) built from the image <paramref name="imageText"/>: <paramref name="build"/>
    /// gets the unpacked tree and the slots file naming the image by digest, to put beside the medium's squashfs at
    /// <paramref name="squashfsTarget"/>, where a node installed from the live system reads it.
    /// </summary>
    public static Task<int> BuildLiveMediumFromAsync(
        CommandContext context,
        string imageText,
        string outputPath,
        string squashfsTarget,
        Func<string, DiskContentFile, Task<int>> build,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(build);
        return BuildFromAsync(
            context,
            imageText,
            outputPath,
            (unpacked, result) => WithSlotsFileAsync(
                outputPath,
                Slots(result),
                slotsFile => build(unpacked, new DiskContentFile(slotsFile, InstallSlots.BesideSquashfs(squashfsTarget))),
                cancellationToken),
            cancellationToken);
    }

    /// <summary>The slots of an artifact made from the image <paramref name="result"/> unpacked: every slot holds it, by digest.</summary>
    public static SlotTable Slots(UnpackResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        var image = result.Pull.Image;
        return InstallSlots.Describe(image.Name, image.Digest.Value, image.Config.Created, DateTimeOffset.UtcNow);
    }

    /// <summary>
    /// Runs <paramref name="build"/> with <paramref name="slots"/> written to a slots file beside the output (the
    /// artifact copies it where its node or installer reads it), removed afterwards whatever happened.
    /// </summary>
    public static async Task<int> WithSlotsFileAsync(string outputPath, SlotTable slots, Func<string, Task<int>> build, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(slots);
        ArgumentNullException.ThrowIfNull(build);
        var slotsFile = Path.Combine(Path.GetDirectoryName(outputPath) ?? "/", $".{Path.GetFileName(outputPath)}.slots-{Environment.ProcessId}-{Guid.NewGuid():N}.json");
        try
        {
            await File.WriteAllBytesAsync(slotsFile, SlotStore.Serialize(slots), cancellationToken).ConfigureAwait(false);
            return await build(slotsFile).ConfigureAwait(false);
        }
        finally
        {
            File.Delete(slotsFile);
        }
    }
}
