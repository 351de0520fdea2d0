using System.Text;
using Basalt.Disk.Gpt;

namespace Basalt.Disk.Tests.Unit;

public sealed class Crc32AndGuidTests
{
    [Theory]
    [InlineData("", 0x00000000u)]
    [InlineData("a", 0xE8B7BE43u)]
    [InlineData("123456789", 0xCBF43926u)]
    [InlineData("The quick brown fox jumps over the lazy dog", 0x414FA339u)]
    public void Crc32_matches_the_IEEE_check_values(string input, uint expected) =>
        Assert.Equal(expected, Crc32.Compute(Encoding.ASCII.GetBytes(input)));

    [Fact]
    public void Crc32_append_equals_crc_of_the_concatenation()
    {
        var first = Encoding.ASCII.GetBytes("12345");
        var second = Encoding.ASCII.GetBytes("6789");
        Assert.Equal(0xCBF43926u, Crc32.Append(Crc32.Compute(first), second));
    }

    [Fact]
    public void Same_seed_and_name_give_the_same_guid()
    {
        Assert.Equal(DeterministicGuid.Create("seed", "COS_STATE"), DeterministicGuid.Create("seed", "COS_STATE"));
        Assert.NotEqual(DeterministicGuid.Create("seed", "COS_STATE"), DeterministicGuid.Create("seed", "COS_OEM"));
        Assert.NotEqual(DeterministicGuid.Create("seed", "COS_STATE"), DeterministicGuid.Create("other", "COS_STATE"));
    }

    [Fact]
    public void Seed_and_name_are_not_confused_by_concatenation() =>
        Assert.NotEqual(DeterministicGuid.Create("ab", "c"), DeterministicGuid.Create("a", "bc"));

    [Theory]
    [InlineData("a", "b")]
    [InlineData("sha256:0123", "partition:COS_GRUB")]
    [InlineData("", "")]
    public void Guids_are_rfc4122_version5_variant1(string seed, string name)
    {
        var text = DeterministicGuid.Create(seed, name).ToString("D");
        Assert.Equal('5', text[14]);
        Assert.Contains(text[19], "89ab");
    }

    [Fact]
    public void Guid_is_the_first_sixteen_bytes_of_sha256_with_version_bits()
    {
        var hash = System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes("s\0n"));
        hash[6] = (byte)((hash[6] & 0x0F) | 0x50);
        hash[8] = (byte)((hash[8] & 0x3F) | 0x80);
        Assert.Equal(new Guid(hash.AsSpan(0, 16), bigEndian: true), DeterministicGuid.Create("s", "n"));
    }

    [Fact]
    public void Volume_ids_are_deterministic_and_differ_by_name()
    {
        Assert.Equal(DeterministicGuid.CreateVolumeId("s", "COS_GRUB"), DeterministicGuid.CreateVolumeId("s", "COS_GRUB"));
        Assert.NotEqual(DeterministicGuid.CreateVolumeId("s", "COS_GRUB"), DeterministicGuid.CreateVolumeId("s", "OTHER"));
    }
}
