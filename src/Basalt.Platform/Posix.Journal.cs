using System.Runtime.InteropServices;

namespace Basalt.Platform;

/// <summary>What <see cref="Posix.CheckpointJournal"/> did.</summary>
public enum JournalCheckpointOutcome
{
    /// <summary>Every committed change of the filesystem is now in its final place on the disk.</summary>
    Written,

    /// <summary>An ext2/3/4 filesystem without a journal: what fsync made durable is already where any reader finds it.</summary>
    NoJournal,

    /// <summary>Not ext2/3/4 (tmpfs, overlay, squashfs…): nothing Basalt's boot partitions are made of, left alone.</summary>
    NotExt,

    /// <summary>Mounted read-only: nothing can be waiting in its journal.</summary>
    ReadOnly,

    /// <summary>Left alone: the filesystem holds the running system's root, which never holds what GRUB reads.</summary>
    RunningRoot,
}

/// <summary>
/// Makes what was written on a filesystem visible to a reader that does not replay its journal: GRUB, reading the boot
/// partitions. A seam so callers can be tested for when they do it.
/// </summary>
public interface IJournalCheckpoint
{
    JournalCheckpointOutcome Checkpoint(string path);
}

/// <summary>The host's checkpoint: <see cref="Posix.CheckpointJournal"/>.</summary>
public sealed class JournalCheckpoint : IJournalCheckpoint
{
    public JournalCheckpointOutcome Checkpoint(string path) => Posix.CheckpointJournal(path);
}

public static partial class Posix
{
    private const long ExtSuperMagic = 0xEF53;
    private const nuint Ext4CheckpointIoctl = 0x4004662B; // _IOW('f', 43, __u32): EXT4_IOC_CHECKPOINT, Linux 5.13+
    private const nuint FreezeIoctl = 0xC0045877; // _IOWR('X', 119, int): FIFREEZE
    private const nuint ThawIoctl = 0xC0045878; // _IOWR('X', 120, int): FITHAW

    /// <summary>
    /// Writes the journal of the ext4 filesystem holding <paramref name="path"/> out to its final place, so a reader that
    /// does not replay journals sees what Linux sees. GRUB is such a reader: after a power cut, a name it reads could
    /// still point, in the on-disk metadata, at the blocks of a file that was since replaced and whose blocks now hold
    /// another file. EXT4_IOC_CHECKPOINT does it without stopping writers for long; kernels before 5.13 lack it, and a
    /// freeze and thaw (FIFREEZE, FITHAW) does the same there.
    /// </summary>
    /// <remarks>
    /// The filesystem that holds <c>/</c> is left alone: on a node it is the read-only image, never a boot partition, and
    /// on a build host flushing (or freezing) the root's journal would stall every writer on the machine.
    /// </remarks>
    public static JournalCheckpointOutcome CheckpointJournal(string path) => CheckpointJournal(path, freeze: false);

    /// <summary>
    /// <see cref="CheckpointJournal(string)"/> the way kernels before 5.13 allow: a freeze, which writes the journal out,
    /// and a thaw at once. Writers on the filesystem wait for the length of it.
    /// </summary>
    public static JournalCheckpointOutcome CheckpointJournalByFreezing(string path) => CheckpointJournal(path, freeze: true);

    private static JournalCheckpointOutcome CheckpointJournal(string path, bool freeze)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (GetStatus(Path.GetFullPath(path)).Device == GetStatus("/").Device)
        {
            return JournalCheckpointOutcome.RunningRoot;
        }

        var fd = OpenReadOnly(path);
        try
        {
            if (FileSystemMagic(fd, path) != ExtSuperMagic)
            {
                return JournalCheckpointOutcome.NotExt;
            }

            if (freeze)
            {
                FreezeAndThaw(fd, path);
                return JournalCheckpointOutcome.Written;
            }

            uint flags = 0;
            int result;
            unsafe
            {
                result = ioctl(fd, Ext4CheckpointIoctl, &flags);
            }

            if (result == 0)
            {
                return JournalCheckpointOutcome.Written;
            }

            var errno = Marshal.GetLastPInvokeError();
            if (errno == Errno.ENODEV)
            {
                return JournalCheckpointOutcome.NoJournal;
            }

            if (errno == Errno.EROFS)
            {
                return JournalCheckpointOutcome.ReadOnly;
            }

            if (errno is not (Errno.ENOTTY or Errno.EINVAL or Errno.EOPNOTSUPP))
            {
                throw new HostCallException("ioctl(EXT4_IOC_CHECKPOINT)", path, errno);
            }

            FreezeAndThaw(fd, path);
            return JournalCheckpointOutcome.Written;
        }
        finally
        {
            _ = close(fd);
        }
    }

    private static unsafe void FreezeAndThaw(int fd, string path)
    {
        Check(ioctl(fd, FreezeIoctl, null), "ioctl(FIFREEZE)", path);
        Check(ioctl(fd, ThawIoctl, null), "ioctl(FITHAW)", path);
    }

    private static long FileSystemMagic(int fd, string path)
    {
        // struct statfs is 120 bytes on x86-64 and 64-bit ARM; f_type is its first member.
        Span<long> buffer = stackalloc long[16];
        unsafe
        {
            fixed (long* pointer = buffer)
            {
                Check(fstatfs(fd, pointer), "fstatfs", path);
            }
        }

        return buffer[0];
    }

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int ioctl(int fd, nuint request, void* argument);

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int fstatfs(int fd, long* buffer);
}
