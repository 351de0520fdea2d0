using System.Buffers.Binary;

namespace Basalt.Disk.FileSystems.Ext4;

/// <summary>
/// POSIX ACLs arrive in the kernel's xattr format (version 2, 8-byte entries); ext4 stores them in its own (version 1,
/// 4-byte entries for the owner, group, mask and other, 8-byte ones for named users and groups) under name indexes 2
/// and 3 with an empty name.
/// </summary>
internal static class Ext4PosixAcl
{
    private const string Access = "system.posix_acl_access";
    private const string Default = "system.posix_acl_default";
    private const uint XattrVersion = 2;
    private const uint Ext4Version = 1;
    private const ushort NamedUser = 0x02;
    private const ushort NamedGroup = 0x08;
    private const ushort UserObject = 0x01;
    private const ushort GroupObject = 0x04;
    private const ushort Mask = 0x10;
    private const ushort Other = 0x20;

    /// <summary>The ext4 attribute for an ACL; null when <paramref name="name"/> is no ACL or the value is malformed.</summary>
    public static Ext4Format.Xattr? Encode(string name, byte[] value)
    {
        byte index = name switch
        {
            Access => 2,
            Default => 3,
            _ => 0,
        };
        if (index == 0 || value.Length < 4 || (value.Length - 4) % 8 != 0 || BinaryPrimitives.ReadUInt32LittleEndian(value) != XattrVersion)
        {
            return null;
        }

        using var output = new MemoryStream();
        Span<byte> word = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(word, Ext4Version);
        output.Write(word);
        for (var offset = 4; offset < value.Length; offset += 8)
        {
            var tag = BinaryPrimitives.ReadUInt16LittleEndian(value.AsSpan(offset));
            switch (tag)
            {
                case UserObject or GroupObject or Mask or Other:
                    output.Write(value.AsSpan(offset, 4));
                    break;
                case NamedUser or NamedGroup:
                    output.Write(value.AsSpan(offset, 8));
                    break;
                default:
                    return null;
            }
        }

        return new Ext4Format.Xattr(index, [], output.ToArray());
    }
}
