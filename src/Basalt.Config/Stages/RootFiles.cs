using Basalt.Platform;

namespace Basalt.Config.Stages;

/// <summary>Changes owners; the runner calls it so that tests without root can see what would be owned by whom.</summary>
public interface IFileOwnership
{
    void ChangeOwner(string path, int userId, int groupId);
}

/// <summary>lchown(2) through <see cref="Posix"/>.</summary>
public sealed class PosixFileOwnership : IFileOwnership
{
    public void ChangeOwner(string path, int userId, int groupId) => Posix.ChangeOwner(path, userId, groupId);
}

/// <summary>Writes in a target root: a file appears whole, with its mode and owner, or not at all.</summary>
internal static class RootFiles
{
    public const UnixFileMode FileDefault = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead;

    public const UnixFileMode DirectoryDefault = FileDefault | UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;

    /// <summary>
    /// Writes <paramref name="content"/> to a temporary sibling created with <paramref name="mode"/> (so a
    /// secret is never readable by others, not even for an instant), owns it, flushes it and renames it over
    /// <paramref name="path"/>; a symlink at <paramref name="path"/> is replaced, never followed.
    /// </summary>
    public static void WriteAtomic(string path, ReadOnlySpan<byte> content, UnixFileMode mode, (int Uid, int Gid)? owner, IFileOwnership? ownership)
    {
        var temporary = AtomicFile.TemporarySibling(path);
        try
        {
            using (var stream = new FileStream(temporary, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = mode & (UnixFileMode.UserRead | UnixFileMode.UserWrite),
            }))
            {
                stream.Write(content);
                stream.Flush(flushToDisk: true);
            }

            if (owner is { } o)
            {
                (ownership ?? new PosixFileOwnership()).ChangeOwner(temporary, o.Uid, o.Gid);
            }

            // After chown, because chown clears setuid/setgid bits.
            File.SetUnixFileMode(temporary, mode);
            File.Move(temporary, path, overwrite: true);
            Posix.SyncParent(path);
        }
        catch
        {
            try
            {
                File.Delete(temporary);
            }
            catch (IOException)
            {
            }

            throw;
        }
    }

    /// <summary>Creates missing directories of <paramref name="hostPath"/> with <paramref name="mode"/>; returns those it created.</summary>
    public static List<string> CreateDirectories(string hostPath, UnixFileMode mode)
    {
        var created = new List<string>();
        var missing = new Stack<string>();
        for (var current = hostPath; !Directory.Exists(current); current = Path.GetDirectoryName(current)!)
        {
            if (File.Exists(current) || new FileInfo(current).LinkTarget is not null)
            {
                throw new StageStepException($"'{current}' exists and is not a directory");
            }

            missing.Push(current);
        }

        while (missing.Count > 0)
        {
            var directory = missing.Pop();
            Directory.CreateDirectory(directory, mode);
            File.SetUnixFileMode(directory, mode);
            created.Add(directory);
        }

        return created;
    }
}
