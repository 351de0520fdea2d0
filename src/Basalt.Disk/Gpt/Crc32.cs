namespace Basalt.Disk.Gpt;

/// <summary>
/// CRC-32 (IEEE 802.3, reflected polynomial 0xEDB88320) as the UEFI specification uses it for GPT
/// headers and partition entry arrays. Table-driven; System.IO.Hashing is not available to Basalt.
/// </summary>
public static class Crc32
{
    private const uint Polynomial = 0xEDB88320u;

    private static readonly uint[] Table = BuildTable();

    public static uint Compute(ReadOnlySpan<byte> data) => Append(0, data);

    /// <summary>Continues a CRC over more data: <c>Append(Compute(a), b) == Compute(a + b)</c>.</summary>
    public static uint Append(uint crc, ReadOnlySpan<byte> data)
    {
        var value = ~crc;
        foreach (var octet in data)
        {
            value = Table[(value ^ octet) & 0xFF] ^ (value >> 8);
        }

        return ~value;
    }

    private static uint[] BuildTable()
    {
        var table = new uint[256];
        for (uint index = 0; index < table.Length; index++)
        {
            var value = index;
            for (var bit = 0; bit < 8; bit++)
            {
                value = (value & 1) != 0 ? (value >> 1) ^ Polynomial : value >> 1;
            }

            table[index] = value;
        }

        return table;
    }
}
