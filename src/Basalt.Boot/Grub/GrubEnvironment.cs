using System.Text;
using Basalt.Platform;

namespace Basalt.Boot.Grub;

/// <summary>The grubenv variables Basalt's GRUB menu and agent read and write.</summary>
public static class GrubEnvironmentKeys
{
    /// <summary>One-shot entry for the next boot; the menu clears it and saves the block back.</summary>
    public const string NextEntry = "next_entry";
    /// <summary>The default entry when no one-shot is set (<c>cos</c> when empty).</summary>
    public const string SavedEntry = "saved_entry";
    /// <summary>Title shown in the menu instead of "Basalt".</summary>
    public const string DefaultMenuEntry = "default_menu_entry";
    /// <summary>Overrides the fallback chain (GRUB entry numbers, e.g. "1 2").</summary>
    public const string DefaultFallback = "default_fallback";
    public const string ExtraCmdline = "extra_cmdline";
    public const string ExtraActiveCmdline = "extra_active_cmdline";
    public const string ExtraPassiveCmdline = "extra_passive_cmdline";
    public const string ExtraRecoveryCmdline = "extra_recovery_cmdline";

    /// <summary>Why the mounter last failed over (written before its reboot), for <c>basalt state</c>.</summary>
    public const string LastFailure = "basalt_last_failure";

    // Boot counting (see BootAssessment): per-slot tries left, decremented by the menu before booting
    // a slot, cleared by the agent once boot-complete is reached. Absent = the slot is trusted.
    /// <summary>Tries left for the active slot.</summary>
    public const string ActiveTriesLeft = "basalt_active_tries";
    /// <summary>Tries left for the passive slot.</summary>
    public const string PassiveTriesLeft = "basalt_passive_tries";
    /// <summary>The entry the menu booted while counting, so the agent can tell which slot a boot used.</summary>
    public const string LastBootEntry = "basalt_last_entry";
    /// <summary>Why the menu stepped from one slot to the next (e.g. "active: no tries left").</summary>
    public const string FallbackReason = "basalt_fallback_reason";
    /// <summary>The tries the last upgrade armed each slot with, to re-arm passive while the node runs on it.</summary>
    public const string BootTries = "basalt_boot_tries";
}

/// <summary>
/// A GRUB environment block (grubenv): the header <c># GRUB Environment Block</c>, one <c>name=value</c>
/// line per variable (<c>\</c> and newline escaped with a backslash, as GRUB's envblk.c does), then
/// <c>#</c> padding up to a fixed size (1024 bytes). GRUB rewrites the block in place and never grows
/// it, so a change that does not fit is refused.
/// </summary>
public sealed class GrubEnvironment
{
    public const int DefaultSize = 1024;
    public const string Header = "# GRUB Environment Block\n";

    // Comment lines (e.g. Debian's "# WARNING: Do not edit…") are kept where they were, as GRUB does;
    // a comment is stored with a null value and its whole text (without '\n') as the name.
    private readonly List<Line> _lines;

    private GrubEnvironment(int size, List<Line> lines)
    {
        Size = size;
        _lines = lines;
    }

    private readonly record struct Line(string Name, string? Value)
    {
        public bool IsComment => Value is null;
    }

    /// <summary>The block size; kept as read so the file GRUB knows keeps its size.</summary>
    public int Size { get; }

    /// <summary>The variables in block order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Variables =>
        _lines.Where(l => !l.IsComment).Select(l => new KeyValuePair<string, string>(l.Name, l.Value!)).ToList();

    /// <summary>Bytes of padding left for more variables.</summary>
    public int FreeBytes => Size - EncodedLength(_lines);

    public static GrubEnvironment Create(int size = DefaultSize)
    {
        if (size < Header.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(size), size, $"a GRUB environment block holds at least its {Header.Length}-byte header");
        }

        return new GrubEnvironment(size, []);
    }

    public static GrubEnvironment Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return Parse(File.ReadAllBytes(path), path);
    }

    public static GrubEnvironment Parse(ReadOnlySpan<byte> block, string source = "grubenv")
    {
        var header = Encoding.ASCII.GetBytes(Header);
        if (!block.StartsWith(header))
        {
            throw new MalformedGrubEnvironmentException(source, "it does not start with '# GRUB Environment Block'");
        }

        var lines = new List<Line>();
        var position = header.Length;
        while (position < block.Length)
        {
            if (block[position] == (byte)'#')
            {
                // A comment line, or the padding that runs to the end of the block without a newline.
                var newline = block[position..].IndexOf((byte)'\n');
                if (newline < 0)
                {
                    break;
                }

                lines.Add(new Line(Decode(block.Slice(position, newline), source), null));
                position += newline + 1;
                continue;
            }

            var equals = block[position..].IndexOfAny((byte)'=', (byte)'\n');
            if (equals < 0 || block[position + equals] != (byte)'=')
            {
                throw new MalformedGrubEnvironmentException(source, $"the line at byte {position} has no '='");
            }

            var name = Decode(block.Slice(position, equals), source);
            var value = new List<byte>();
            var cursor = position + equals + 1;
            var terminated = false;
            while (cursor < block.Length)
            {
                var c = block[cursor];
                if (c == (byte)'\n')
                {
                    terminated = true;
                    break;
                }

                if (c == (byte)'\\')
                {
                    cursor++;
                    if (cursor >= block.Length)
                    {
                        break;
                    }

                    c = block[cursor];
                }

                value.Add(c);
                cursor++;
            }

            if (!terminated)
            {
                throw new MalformedGrubEnvironmentException(source, $"variable '{name}' runs past the end of the block");
            }

            var text = Decode([.. value], source);
            var existing = lines.FindIndex(l => !l.IsComment && l.Name == name);
            if (existing >= 0)
            {
                lines[existing] = new(name, text);
            }
            else
            {
                lines.Add(new(name, text));
            }

            position = cursor + 1;
        }

        return new GrubEnvironment(block.Length, lines);
    }

    public string? Get(string name) => _lines.FirstOrDefault(l => !l.IsComment && l.Name == name).Value;

    /// <summary>Sets (or replaces) a variable; refuses names GRUB cannot read and changes that do not fit.</summary>
    public void Set(string name, string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        ValidateName(name);
        var changed = _lines.ToList();
        var index = changed.FindIndex(l => !l.IsComment && l.Name == name);
        if (index >= 0)
        {
            changed[index] = new(name, value);
        }
        else
        {
            changed.Add(new(name, value));
        }

        var needed = EncodedLength(changed) - EncodedLength(_lines);
        if (EncodedLength(changed) > Size)
        {
            throw new GrubEnvironmentFullException(name, needed, FreeBytes);
        }

        _lines.Clear();
        _lines.AddRange(changed);
    }

    /// <summary>Removes a variable; false when it was not set.</summary>
    public bool Unset(string name) => _lines.RemoveAll(l => !l.IsComment && l.Name == name) > 0;

    public byte[] ToBytes()
    {
        var content = new StringBuilder(Header);
        foreach (var (name, value) in _lines)
        {
            if (value is null)
            {
                content.Append(name).Append('\n');
                continue;
            }

            content.Append(name).Append('=');
            foreach (var c in value)
            {
                if (c is '\\' or '\n')
                {
                    content.Append('\\');
                }

                content.Append(c);
            }

            content.Append('\n');
        }

        var bytes = Encoding.UTF8.GetBytes(content.ToString());
        var block = new byte[Size];
        bytes.CopyTo(block, 0);
        block.AsSpan(bytes.Length).Fill((byte)'#');
        return block;
    }

    /// <summary>Writes the whole block atomically (temporary sibling, fsync, rename).</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        AtomicFile.WriteAllBytes(path, ToBytes());
    }

    /// <summary>
    /// Saves a node's block where GRUB reads it at the next boot. GRUB does not replay the partition's journal, and
    /// after a power cut the name could still point at the replaced block's sectors (which <c>save_env</c> would then
    /// write into, whatever file they belong to by then): the journal is written out before this returns.
    /// </summary>
    public void SaveForBoot(string path, IJournalCheckpoint checkpoint)
    {
        ArgumentNullException.ThrowIfNull(checkpoint);
        Save(path);
        checkpoint.Checkpoint(Path.GetDirectoryName(Path.GetFullPath(path))!);
    }

    private static int EncodedLength(IEnumerable<Line> lines)
    {
        var length = Header.Length;
        foreach (var (name, value) in lines)
        {
            length += value is null
                ? Encoding.UTF8.GetByteCount(name) + 1
                : Encoding.UTF8.GetByteCount(name) + 1 + Encoding.UTF8.GetByteCount(value) + value.Count(c => c is '\\' or '\n') + 1;
        }

        return length;
    }

    private static void ValidateName(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0)
        {
            throw new InvalidGrubVariableException(name, "the name is empty");
        }

        if (name[0] == '#' || name.Any(c => c is '=' or '\n' or '\\' || char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            throw new InvalidGrubVariableException(name, "GRUB cannot read back a name with '=', '\\', whitespace or a leading '#'");
        }
    }

    private static string Decode(ReadOnlySpan<byte> bytes, string source)
    {
        try
        {
            return new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new MalformedGrubEnvironmentException(source, "it holds bytes that are not UTF-8");
        }
    }
}
