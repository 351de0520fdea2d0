using System.Runtime.InteropServices;
using System.Text;
using Microsoft.Win32.SafeHandles;

namespace Basalt.Platform;

/// <summary>File metadata as lstat/statx reports it, for the things the BCL does not expose.</summary>
public readonly record struct UnixFileStatus(
    UnixFileMode Mode,
    UnixFileKind Kind,
    int UserId,
    int GroupId,
    long Size,
    uint LinkCount,
    ulong Inode,
    ulong Device,
    uint DeviceMajor,
    uint DeviceMinor,
    DateTimeOffset ModifiedTime,
    long ModifiedNanoseconds,
    long AllocatedBytes);

public enum UnixFileKind
{
    Regular,
    Directory,
    SymbolicLink,
    CharacterDevice,
    BlockDevice,
    Fifo,
    Socket,
    Unknown,
}

/// <summary>Free and total bytes of a mounted filesystem.</summary>
public readonly record struct FileSystemSpace(long TotalBytes, long AvailableBytes);

/// <summary>
/// The Linux system calls Basalt needs beyond the BCL: ownership without following links,
/// device nodes, hard links, xattrs, timestamps on links, atomic rename-exchange and fsync.
/// Every failure becomes a <see cref="HostCallException"/> naming the call and path.
/// </summary>
public static partial class Posix
{
    private const int AtFdCwd = -100;
    private const int AtSymlinkNoFollow = 0x100;
    private const int AtEmptyPath = 0x1000;
    private const uint RenameNoReplace = 1;
    private const uint RenameExchange = 2;
    private const nuint MountBind = 4096;
    private const int XattrCreateOrReplace = 0;
    private const uint StatxBasicStats = 0x7ff;
    private const int SeekData = 3;
    private const int SeekHole = 4;
    private const int NoSuchDeviceOrAddress = 6; // ENXIO: no data at or after the offset

    public static bool IsRoot => geteuid() == 0;

    public static int EffectiveUserId => (int)geteuid();

    /// <summary>access(2) W_OK: whether this process may write into <paramref name="path"/> (false on a read-only filesystem, also for root).</summary>
    public static bool CanWrite(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return access(path, 2) == 0;
    }

    public static int EffectiveGroupId => (int)getegid();

    /// <summary>Changes owner of <paramref name="path"/> itself, never a symlink's target.</summary>
    public static void ChangeOwner(string path, int userId, int groupId) =>
        Check(lchown(path, userId, groupId), "lchown", path);

    public static void CreateHardLink(string existingPath, string newPath) =>
        Check(link(existingPath, newPath), "link", newPath);

    public static void CreateFifo(string path, UnixFileMode mode) =>
        Check(mkfifo(path, (uint)mode), "mkfifo", path);

    public static void CreateDevice(string path, UnixFileKind kind, UnixFileMode mode, uint major, uint minor)
    {
        var typeBits = kind switch
        {
            UnixFileKind.CharacterDevice => 0x2000u,
            UnixFileKind.BlockDevice => 0x6000u,
            UnixFileKind.Fifo => 0x1000u,
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "only devices and fifos can be created with mknod"),
        };
        Check(mknod(path, typeBits | (uint)mode, MakeDevice(major, minor)), "mknod", path);
    }

    /// <summary>Sets access and modification times of the path itself (symlinks included).</summary>
    public static void SetTimes(string path, DateTimeOffset accessTime, DateTimeOffset modifiedTime)
    {
        Span<Timespec> times = stackalloc Timespec[2];
        times[0] = Timespec.From(accessTime);
        times[1] = Timespec.From(modifiedTime);
        unsafe
        {
            fixed (Timespec* pointer = times)
            {
                Check(utimensat(AtFdCwd, path, pointer, AtSymlinkNoFollow), "utimensat", path);
            }
        }
    }

    public static void SetExtendedAttribute(string path, string name, ReadOnlySpan<byte> value)
    {
        unsafe
        {
            fixed (byte* pointer = value)
            {
                Check(lsetxattr(path, name, pointer, (nuint)value.Length, XattrCreateOrReplace), "lsetxattr", path);
            }
        }
    }

    /// <summary>Names of the extended attributes on the path itself; empty when the filesystem has none.</summary>
    public static IReadOnlyList<string> ListExtendedAttributes(string path)
    {
        unsafe
        {
            var size = llistxattr(path, null, 0);
            if (size < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno is Errno.EOPNOTSUPP or Errno.ENODATA)
                {
                    return [];
                }

                throw new HostCallException("llistxattr", path, errno);
            }

            if (size == 0)
            {
                return [];
            }

            var buffer = new byte[size];
            fixed (byte* pointer = buffer)
            {
                size = llistxattr(path, pointer, (nuint)buffer.Length);
            }

            Check((int)Math.Min(size, 0), "llistxattr", path);
            return Encoding.UTF8.GetString(buffer, 0, (int)size).Split('\0', StringSplitOptions.RemoveEmptyEntries);
        }
    }

    public static byte[]? GetExtendedAttribute(string path, string name)
    {
        unsafe
        {
            var size = lgetxattr(path, name, null, 0);
            if (size < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno is Errno.ENODATA or Errno.EOPNOTSUPP)
                {
                    return null;
                }

                throw new HostCallException("lgetxattr", path, errno);
            }

            var buffer = new byte[size];
            fixed (byte* pointer = buffer)
            {
                size = lgetxattr(path, name, pointer, (nuint)buffer.Length);
            }

            if (size < 0)
            {
                throw new HostCallException("lgetxattr", path, Marshal.GetLastPInvokeError());
            }

            return buffer.AsSpan(0, (int)size).ToArray();
        }
    }

    /// <summary>Status of the path itself (lstat semantics).</summary>
    public static UnixFileStatus GetStatus(string path) =>
        TryGetStatus(path, out var status) ? status : throw new HostCallException("statx", path, Errno.ENOENT);

    /// <summary>
    /// Status of the path itself, or false when it does not exist (ENOENT, ENOTDIR) — without the cost
    /// of an exception, for callers that probe many paths.
    /// </summary>
    public static bool TryGetStatus(string path, out UnixFileStatus status)
    {
        Statx buffer;
        unsafe
        {
            if (statx(AtFdCwd, path, AtSymlinkNoFollow, StatxBasicStats, &buffer) < 0)
            {
                var errno = Marshal.GetLastPInvokeError();
                if (errno is Errno.ENOENT or Errno.ENOTDIR)
                {
                    status = default;
                    return false;
                }

                throw new HostCallException("statx", path, errno);
            }
        }

        var mode = (uint)buffer.Mode;
        var kind = (mode & 0xF000) switch
        {
            0x8000 => UnixFileKind.Regular,
            0x4000 => UnixFileKind.Directory,
            0xA000 => UnixFileKind.SymbolicLink,
            0x2000 => UnixFileKind.CharacterDevice,
            0x6000 => UnixFileKind.BlockDevice,
            0x1000 => UnixFileKind.Fifo,
            0xC000 => UnixFileKind.Socket,
            _ => UnixFileKind.Unknown,
        };
        var modified = DateTimeOffset.FromUnixTimeSeconds(buffer.Mtime.Seconds).AddTicks(buffer.Mtime.Nanoseconds / 100);
        status = new UnixFileStatus(
            (UnixFileMode)(mode & 0xFFF),
            kind,
            (int)buffer.Uid,
            (int)buffer.Gid,
            (long)buffer.Size,
            buffer.Nlink,
            buffer.Ino,
            ((ulong)buffer.DevMajor << 32) | buffer.DevMinor,
            buffer.RdevMajor,
            buffer.RdevMinor,
            modified,
            buffer.Mtime.Nanoseconds,
            (long)buffer.Blocks * 512);
        return true;
    }

    /// <summary>Atomically swaps two existing paths (renameat2 RENAME_EXCHANGE).</summary>
    public static void ExchangePaths(string first, string second) =>
        Check(renameat2(AtFdCwd, first, AtFdCwd, second, RenameExchange), "renameat2(RENAME_EXCHANGE)", $"{first} <-> {second}");

    /// <summary>Renames, failing with EEXIST instead of replacing an existing target.</summary>
    public static void RenameNoReplaceTarget(string source, string target) =>
        Check(renameat2(AtFdCwd, source, AtFdCwd, target, RenameNoReplace), "renameat2(RENAME_NOREPLACE)", $"{source} -> {target}");

    /// <summary>
    /// Bind-mounts the directory <paramref name="source"/> on <paramref name="target"/> (mount(2) with MS_BIND). The boot
    /// mounter makes dozens of these; a mount(8) process for each costs whole seconds on a slow machine.
    /// </summary>
    public static void BindMount(string source, string target) =>
        Check(mount(source, target, null, MountBind, 0), "mount(MS_BIND)", $"{source} -> {target}");

    /// <summary>Flushes a file or directory to stable storage.</summary>
    public static void Sync(string path)
    {
        var fd = OpenReadOnly(path);
        try
        {
            Check(fsync(fd), "fsync", path);
        }
        finally
        {
            _ = close(fd);
        }
    }

    /// <summary>Flushes every dirty page of the filesystem holding <paramref name="path"/> (syncfs): one call instead of an fsync per file.</summary>
    public static void SyncFileSystem(string path)
    {
        var fd = OpenReadOnly(path);
        try
        {
            Check(syncfs(fd), "syncfs", path);
        }
        finally
        {
            _ = close(fd);
        }
    }

    /// <summary>A descriptor of a file or directory for calls that act through one (fsync, syncfs, ioctl); the caller closes it.</summary>
    private static int OpenReadOnly(string path)
    {
        var fd = open(path, 0 /* O_RDONLY */ | 0x80000 /* O_CLOEXEC */);
        return fd >= 0 ? fd : throw new HostCallException("open", path, Marshal.GetLastPInvokeError());
    }

    /// <summary>Flushes the directory that holds <paramref name="path"/>, making a rename in it durable.</summary>
    public static void SyncParent(string path) =>
        Sync(Path.GetDirectoryName(Path.GetFullPath(path)) ?? "/");

    /// <summary>
    /// The first region of <paramref name="file"/> holding data at or after <paramref name="offset"/>, as
    /// [Start, End), or null when only a hole follows (lseek SEEK_DATA/SEEK_HOLE). Reading a sparse disk image through
    /// its holes costs seconds per 10 GiB; asking the filesystem where the data is costs nothing. A filesystem that
    /// does not track holes answers the rest of the file as one region.
    /// </summary>
    /// <summary>
    /// Starts writing back the dirty pages of [<paramref name="offset"/>, +<paramref name="length"/>) of
    /// <paramref name="file"/> without waiting (sync_file_range SYNC_FILE_RANGE_WRITE): a large file written
    /// sequentially then reaches the disk while it is still being written, and its closing fsync has little left to do.
    /// Durability still needs the fsync. Best effort: a filesystem that does not support it is left to the fsync.
    /// </summary>
    public static void StartWriteback(SafeFileHandle file, long offset, long length)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        ArgumentOutOfRangeException.ThrowIfNegative(length);
        _ = sync_file_range(file, offset, length, SyncFileRangeWrite);
    }

    public static (long Start, long End)? NextDataRegion(SafeFileHandle file, long offset)
    {
        ArgumentNullException.ThrowIfNull(file);
        ArgumentOutOfRangeException.ThrowIfNegative(offset);
        var start = lseek(file, offset, SeekData);
        if (start < 0)
        {
            var errno = Marshal.GetLastPInvokeError();
            return errno == NoSuchDeviceOrAddress ? null : throw new HostCallException("lseek(SEEK_DATA)", "open file", errno);
        }

        var end = lseek(file, start, SeekHole);
        if (end < 0)
        {
            throw new HostCallException("lseek(SEEK_HOLE)", "open file", Marshal.GetLastPInvokeError());
        }

        return (start, end);
    }

    public static FileSystemSpace GetSpace(string path)
    {
        var info = new DriveInfo(path);
        return new FileSystemSpace(info.TotalSize, info.AvailableFreeSpace);
    }

    public static ulong MakeDevice(uint major, uint minor) =>
        ((ulong)(major & 0xfffff000) << 32) | ((ulong)(major & 0xfff) << 8) |
        ((ulong)(minor & 0xffffff00) << 12) | (minor & 0xff);

    private static void Check(int result, string call, string path)
    {
        if (result < 0)
        {
            throw new HostCallException(call, path, Marshal.GetLastPInvokeError());
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct Timespec
    {
        public long Seconds;
        public long Nanoseconds;

        public static Timespec From(DateTimeOffset time)
        {
            var ticks = time.UtcTicks - DateTimeOffset.UnixEpoch.UtcTicks;
            var seconds = Math.DivRem(ticks, TimeSpan.TicksPerSecond, out var remainder);
            if (remainder < 0)
            {
                seconds--;
                remainder += TimeSpan.TicksPerSecond;
            }

            return new Timespec { Seconds = seconds, Nanoseconds = remainder * 100 };
        }
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct StatxTimestamp
    {
        public long Seconds;
        public uint Nanoseconds;
        public int Reserved;
    }

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct Statx
    {
        public uint Mask;
        public uint Blksize;
        public ulong Attributes;
        public uint Nlink;
        public uint Uid;
        public uint Gid;
        public ushort Mode;
        public ushort Spare0;
        public ulong Ino;
        public ulong Size;
        public ulong Blocks;
        public ulong AttributesMask;
        public StatxTimestamp Atime;
        public StatxTimestamp Btime;
        public StatxTimestamp Ctime;
        public StatxTimestamp Mtime;
        public uint RdevMajor;
        public uint RdevMinor;
        public uint DevMajor;
        public uint DevMinor;
        public fixed ulong Spare2[14];
    }

    [LibraryImport("libc", SetLastError = true)]
    private static partial uint geteuid();

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mount(string source, string target, string? fileSystemType, nuint flags, nint data);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int access(string path, int mode);

    [LibraryImport("libc", SetLastError = true)]
    private static partial uint getegid();

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int lchown(string path, int owner, int group);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int link(string oldPath, string newPath);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkfifo(string path, uint mode);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mknod(string path, uint mode, ulong device);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int utimensat(int dirFd, string path, Timespec* times, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int lsetxattr(string path, string name, byte* value, nuint size, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint llistxattr(string path, byte* list, nuint size);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial nint lgetxattr(string path, string name, byte* value, nuint size);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static unsafe partial int statx(int dirFd, string path, int flags, uint mask, Statx* buffer);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int renameat2(int oldDirFd, string oldPath, int newDirFd, string newPath, uint flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int fsync(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int syncfs(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int close(int fd);

    [LibraryImport("libc", SetLastError = true)]
    private static partial long lseek(SafeFileHandle fd, long offset, int whence);

    private const uint SyncFileRangeWrite = 2;

    [LibraryImport("libc", SetLastError = true)]
    private static partial int sync_file_range(SafeFileHandle fd, long offset, long nbytes, uint flags);
}
