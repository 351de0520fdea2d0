using System.Security.Cryptography;
using System.Text;

namespace Basalt.Disk.Gpt;

/// <summary>
/// GUIDs derived from a seed and a name, so the same inputs give the same disk: SHA-256 over
/// <c>seed NUL name</c>, the first 16 bytes marked as an RFC 4122 version-5 (name-based) UUID.
/// </summary>
public static class DeterministicGuid
{
    public static Guid Create(string seed, string name)
    {
        ArgumentNullException.ThrowIfNull(seed);
        ArgumentNullException.ThrowIfNull(name);
        var input = Encoding.UTF8.GetBytes(seed + "\0" + name);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(input, hash);
        var bytes = hash[..16];
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x50);
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80);
        return new Guid(bytes, bigEndian: true);
    }

    /// <summary>A FAT volume id (32 bits, printed as 8 hex digits) derived like <see cref="Create"/>.</summary>
    public static uint CreateVolumeId(string seed, string name)
    {
        var input = Encoding.UTF8.GetBytes(seed + "\0vfat-volume-id\0" + name);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(input, hash);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(hash);
    }
}
