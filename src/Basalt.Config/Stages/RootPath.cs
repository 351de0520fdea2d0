namespace Basalt.Config.Stages;

/// <summary>
/// Maps a path as the target system sees it onto the host, as chroot would: symlinks in the root
/// are resolved inside the root, and <c>..</c> stops at it, so no step writes outside <c>--root</c>.
/// </summary>
public static class RootPath
{
    private const int MaxLinks = 40;

    /// <summary>
    /// The host path of <paramref name="path"/> inside <paramref name="root"/>. Links in the directory part
    /// are followed (within the root); the last component is followed only when <paramref name="followLast"/>.
    /// </summary>
    public static string Resolve(string root, string path, bool followLast = false)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        ArgumentNullException.ThrowIfNull(path);
        var fullRoot = Path.GetFullPath(root).TrimEnd('/');
        if (fullRoot.Length == 0)
        {
            // The root is "/": the path is the host's own.
            return Path.GetFullPath("/" + path.TrimStart('/'));
        }

        var resolved = new List<string>();
        var pending = new Stack<string>(Split(path).Reverse());
        var links = 0;
        while (pending.Count > 0)
        {
            var part = pending.Pop();
            if (part == ".")
            {
                continue;
            }

            if (part == "..")
            {
                if (resolved.Count > 0)
                {
                    resolved.RemoveAt(resolved.Count - 1);
                }

                continue;
            }

            var candidate = fullRoot + "/" + string.Join('/', resolved.Append(part));
            var isLast = pending.Count == 0;
            if ((!isLast || followLast) && new FileInfo(candidate) is { LinkTarget: { } target })
            {
                if (++links > MaxLinks)
                {
                    throw new StageStepException($"too many levels of symbolic links resolving '{path}' under '{root}'");
                }

                if (target.StartsWith('/'))
                {
                    resolved.Clear();
                }

                foreach (var next in Split(target).Reverse())
                {
                    pending.Push(next);
                }

                continue;
            }

            resolved.Add(part);
        }

        return fullRoot + "/" + string.Join('/', resolved);
    }

    /// <summary>True when the root is the running system, where live changes (sysctl -p, modprobe, start) apply.</summary>
    public static bool IsHostRoot(string root) => Path.GetFullPath(root).TrimEnd('/').Length == 0;

    private static IEnumerable<string> Split(string path) => path.Split('/', StringSplitOptions.RemoveEmptyEntries);
}
