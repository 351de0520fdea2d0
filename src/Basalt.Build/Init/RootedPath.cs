using Basalt.Platform;

namespace Basalt.Build.Init;

/// <summary>
/// Resolves a path inside a root filesystem the way the image will see it once booted: symbolic links
/// are followed relative to the root (an absolute link target never escapes to the host), so writing
/// <c>/etc/os-release</c> of an image whose link points to <c>/usr/lib/os-release</c> lands in the image.
/// </summary>
public static class RootedPath
{
    private const int MaxLinks = 40;

    /// <summary>The host path for <paramref name="pathInRoot"/>; the last component is followed too when it is a link.</summary>
    public static string Resolve(string root, string pathInRoot) => Resolve(root, pathInRoot, followLast: true);

    public static string Resolve(string root, string pathInRoot, bool followLast)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        ArgumentException.ThrowIfNullOrEmpty(pathInRoot);
        var fullRoot = Path.GetFullPath(root);
        var pending = new Stack<string>(Split(pathInRoot).Reverse());
        var resolved = new List<string>();
        var links = 0;
        while (pending.Count > 0)
        {
            var component = pending.Pop();
            if (component == "..")
            {
                if (resolved.Count > 0)
                {
                    resolved.RemoveAt(resolved.Count - 1);
                }

                continue;
            }

            var candidate = Join(fullRoot, resolved.Append(component));
            var isLast = pending.Count == 0;
            if ((!isLast || followLast) && Posix.TryGetStatus(candidate, out var status) && status.Kind == UnixFileKind.SymbolicLink)
            {
                if (++links > MaxLinks)
                {
                    throw new UnsafeRootPathException(fullRoot, pathInRoot, "too many levels of symbolic links");
                }

                var target = new FileInfo(candidate).LinkTarget ?? string.Empty;
                if (target.StartsWith('/'))
                {
                    resolved.Clear();
                }

                foreach (var part in Split(target).Reverse())
                {
                    pending.Push(part);
                }

                continue;
            }

            resolved.Add(component);
        }

        return Join(fullRoot, resolved);
    }

    /// <summary>The in-root absolute form of a resolved host path under <paramref name="root"/>.</summary>
    public static string ToRootPath(string root, string hostPath)
    {
        var relative = Path.GetRelativePath(Path.GetFullPath(root), hostPath);
        return relative == "." ? "/" : "/" + relative;
    }

    private static IEnumerable<string> Split(string path) =>
        path.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(part => part != ".");

    private static string Join(string root, IEnumerable<string> parts)
    {
        var list = parts.ToList();
        return list.Count == 0 ? root : Path.Combine([root, .. list]);
    }
}
