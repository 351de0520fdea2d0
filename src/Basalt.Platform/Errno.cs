namespace Basalt.Platform;

/// <summary>Linux errno values Basalt reacts to, and their human wording.</summary>
public static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int EACCES = 13;
    public const int EEXIST = 17;
    public const int EXDEV = 18;
    public const int ENODEV = 19;
    public const int ENOTDIR = 20;
    public const int EISDIR = 21;
    public const int EINVAL = 22;
    public const int ENOTTY = 25;
    public const int ENOSPC = 28;
    public const int EROFS = 30;
    public const int ERANGE = 34;
    public const int ENOSYS = 38;
    public const int ENOTEMPTY = 39;
    public const int ENODATA = 61;
    public const int EOPNOTSUPP = 95;

    public static string Describe(int errno) => errno switch
    {
        EPERM => "operation not permitted",
        ENOENT => "no such file or directory",
        EIO => "input/output error",
        EACCES => "permission denied",
        EEXIST => "file exists",
        EXDEV => "cross-device link",
        ENOTDIR => "not a directory",
        EISDIR => "is a directory",
        EINVAL => "invalid argument",
        ENOSPC => "no space left on device",
        EROFS => "read-only file system",
        ENOSYS => "function not implemented",
        ENOTEMPTY => "directory not empty",
        ENODATA => "no data available",
        EOPNOTSUPP => "operation not supported",
        _ => $"errno {errno}",
    };

    public static string? HintFor(int errno) => errno switch
    {
        EPERM or EACCES => "run as root (sudo) or choose a path you own",
        ENOSPC => "free some space or choose a larger target",
        EROFS => "the target is mounted read-only",
        _ => null,
    };
}
