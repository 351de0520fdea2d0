using Basalt.Oci.Model;

namespace Basalt.Oci.Layers;

/// <summary>
/// Somewhere layer entries go that is not a directory on this host, such as a filesystem image being written. Paths
/// are the entries' names split into safe components and joined with '/' ("" is the root); the target resolves
/// symbolic links in parents inside itself and creates missing parents.
/// </summary>
public interface ILayerEntryTarget
{
    /// <summary>True for a directory, false for anything else, null when nothing is there (a final symbolic link not followed).</summary>
    bool? IsDirectory(string path);

    /// <summary>The names in the directory at <paramref name="path"/>; null when there is none.</summary>
    IReadOnlyList<string>? ListDirectory(string path);

    /// <summary>Creates the directory, or sets the metadata of the one already there.</summary>
    void AddDirectory(string path, TarEntryHeader entry);

    Task AddFileAsync(string path, TarEntryHeader entry, Stream content, CancellationToken cancellationToken);

    void AddSymbolicLink(string path, TarEntryHeader entry);

    void AddHardLink(string path, string existingPath);

    /// <summary>A character or block device, or a FIFO.</summary>
    void AddSpecial(string path, TarEntryHeader entry);

    /// <summary>Removes the entry (a directory with everything below it); false when there is none.</summary>
    bool Remove(string path);
}

/// <summary>What a streamed apply did.</summary>
public sealed record LayerStreamResult(IReadOnlyList<Digest> DiffIds, long EntriesApplied);

/// <summary>
/// Applies image layers, in order, to an <see cref="ILayerEntryTarget"/>, the way an overlay stack presents them: a
/// later entry replaces an earlier one, a whiteout removes what lower layers put there, an opaque directory hides
/// their content. Each layer is read once, as a stream, and its diff_id checked. Not atomic: the caller discards the
/// target when this fails.
/// </summary>
public sealed class LayerStreamApplier
{
    public async Task<LayerStreamResult> ApplyAsync(
        IReadOnlyList<LayerBlob> layers,
        ILayerEntryTarget target,
        IProgress<LayerApplyProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(layers);
        ArgumentNullException.ThrowIfNull(target);
        var diffIds = new List<Digest>(layers.Count);
        long entries = 0;
        for (var i = 0; i < layers.Count; i++)
        {
            var layer = new StreamedLayer(layers[i].DisplayName, target);
            diffIds.Add(await LayerReading.ReadEntriesAsync(layers[i], i, layers.Count, layer.ApplyAsync, progress, cancellationToken).ConfigureAwait(false));
            entries += layer.Entries;
        }

        return new LayerStreamResult(diffIds, entries);
    }

    /// <summary>One layer's pass: what it added, so its whiteouts only remove lower layers' content.</summary>
    private sealed class StreamedLayer(string layer, ILayerEntryTarget target)
    {
        private readonly HashSet<string> _added = new(StringComparer.Ordinal);
        private readonly HashSet<string> _addedAncestors = new(StringComparer.Ordinal);

        public long Entries { get; private set; }

        public async Task ApplyAsync(TarEntryHeader entry, Stream data, CancellationToken cancellationToken)
        {
            Entries++;
            var parts = LayerReading.Normalize(entry.Name, layer, entry.Name, "its name");
            if (parts.Count == 0)
            {
                if (entry.Kind != TarEntryKind.Directory)
                {
                    throw Unsafe(entry.Name, "it names the root directory but is not a directory");
                }

                target.AddDirectory(string.Empty, entry);
                return;
            }

            var name = parts[^1];
            var parent = string.Join('/', parts.Take(parts.Count - 1));
            if (name.StartsWith(LayerReading.WhiteoutPrefix, StringComparison.Ordinal))
            {
                ApplyWhiteout(entry.Name, parent, name);
                return;
            }

            var path = string.Join('/', parts);
            switch (entry.Kind)
            {
                case TarEntryKind.Directory:
                    target.AddDirectory(path, entry);
                    break;
                case TarEntryKind.RegularFile:
                    await target.AddFileAsync(path, entry, data, cancellationToken).ConfigureAwait(false);
                    break;
                case TarEntryKind.SymbolicLink:
                    if (entry.LinkName.Length == 0)
                    {
                        throw new CorruptLayerException(layer, $"symbolic link '{entry.Name}' has an empty target");
                    }

                    target.AddSymbolicLink(path, entry);
                    break;
                case TarEntryKind.HardLink:
                    var existing = string.Join('/', LayerReading.Normalize(entry.LinkName, layer, entry.Name, $"its hard link target '{entry.LinkName}'"));
                    switch (existing.Length == 0 ? true : target.IsDirectory(existing))
                    {
                        case null:
                            throw Unsafe(entry.Name, $"its hard link target '{entry.LinkName}' does not exist");
                        case true:
                            throw Unsafe(entry.Name, $"its hard link target '{entry.LinkName}' is a directory");
                    }

                    if (existing != path)
                    {
                        target.AddHardLink(path, existing);
                    }

                    break;
                case TarEntryKind.CharacterDevice or TarEntryKind.BlockDevice or TarEntryKind.Fifo:
                    target.AddSpecial(path, entry);
                    break;
                default:
                    throw new UnsupportedLayerEntryException(layer, entry.Name, $"entry kind {entry.Kind}");
            }

            MarkAdded(parts);
        }

        private void ApplyWhiteout(string entryName, string parent, string name)
        {
            if (name == LayerReading.OpaqueWhiteout)
            {
                MarkAdded(parent.Length == 0 ? [] : [.. parent.Split('/')]);
                foreach (var child in target.ListDirectory(parent) ?? [])
                {
                    RemoveLowerContent(Join(parent, child));
                }

                return;
            }

            if (name.StartsWith(LayerReading.WhiteoutPrefix + LayerReading.WhiteoutPrefix, StringComparison.Ordinal))
            {
                return; // other aufs bookkeeping (.wh..wh.plnk, .wh..wh.aufs) carries no content
            }

            var victim = name[LayerReading.WhiteoutPrefix.Length..];
            if (victim is "" or "." or "..")
            {
                throw Unsafe(entryName, "a whiteout must name an entry in its directory");
            }

            RemoveLowerContent(Join(parent, victim));
        }

        /// <summary>Removes what lower layers put at <paramref name="path"/>, keeping what this layer added.</summary>
        private void RemoveLowerContent(string path)
        {
            if (_added.Contains(path) || _addedAncestors.Contains(path))
            {
                if (target.IsDirectory(path) == true)
                {
                    foreach (var child in target.ListDirectory(path) ?? [])
                    {
                        RemoveLowerContent(Join(path, child));
                    }
                }

                return;
            }

            target.Remove(path);
        }

        private void MarkAdded(List<string> parts)
        {
            _added.Add(string.Join('/', parts));
            for (var length = parts.Count - 1; length > 0 && _addedAncestors.Add(string.Join('/', parts.Take(length))); length--)
            {
            }
        }

        private static string Join(string parent, string child) => parent.Length == 0 ? child : parent + "/" + child;

        private UnsafeLayerEntryException Unsafe(string entryName, string reason) => new(layer, entryName, reason);
    }
}
