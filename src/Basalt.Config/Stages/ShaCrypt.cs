using System.Security.Cryptography;
using System.Text;

namespace Basalt.Config.Stages;

/// <summary>
/// SHA-512 crypt (<c>$6$</c>), Ulrich Drepper's SHA-crypt as glibc's crypt(3) implements it, so a
/// plain password in a cloud-config lands in /etc/shadow in the form PAM verifies.
/// </summary>
public static class ShaCrypt
{
    public const int DefaultRounds = 5000;
    private const int MinRounds = 1000;
    private const int MaxRounds = 999_999_999;
    private const int MaxSaltLength = 16;
    private const string Alphabet = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    /// <summary>Hashes <paramref name="password"/> with a fresh random 16-character salt.</summary>
    public static string HashPassword(string password)
    {
        ArgumentNullException.ThrowIfNull(password);
        Span<char> salt = stackalloc char[MaxSaltLength];
        for (var i = 0; i < salt.Length; i++)
        {
            salt[i] = Alphabet[RandomNumberGenerator.GetInt32(Alphabet.Length)];
        }

        return Hash(password, new string(salt));
    }

    /// <summary>
    /// Hashes with a given salt; <paramref name="rounds"/> null means the default 5000 and no
    /// <c>rounds=</c> field, as glibc writes it.
    /// </summary>
    public static string Hash(string password, string salt, int? rounds = null)
    {
        ArgumentNullException.ThrowIfNull(password);
        ArgumentNullException.ThrowIfNull(salt);
        var saltText = salt.Length > MaxSaltLength ? salt[..MaxSaltLength] : salt;
        var roundCount = rounds is { } r ? Math.Clamp(r, MinRounds, MaxRounds) : DefaultRounds;
        var key = Encoding.UTF8.GetBytes(password);
        var saltBytes = Encoding.UTF8.GetBytes(saltText);

        // Digest B: key, salt, key.
        var b = SHA512.HashData([.. key, .. saltBytes, .. key]);

        // Digest A: key, salt, then B repeated over the key length, then key/B by the bits of the length.
        using var a = IncrementalHash.CreateHash(HashAlgorithmName.SHA512);
        a.AppendData(key);
        a.AppendData(saltBytes);
        AppendRepeated(a, b, key.Length);
        for (var length = key.Length; length > 0; length >>= 1)
        {
            a.AppendData((length & 1) != 0 ? b : key);
        }

        var digestA = a.GetHashAndReset();

        // P: digest of the key repeated key-length times, stretched to the key length.
        var dp = HashRepeated(key, key.Length);
        var p = Stretch(dp, key.Length);

        // S: digest of the salt repeated 16 + A[0] times, stretched to the salt length.
        var ds = HashRepeated(saltBytes, 16 + digestA[0]);
        var s = Stretch(ds, saltBytes.Length);

        var c = digestA;
        using var round = IncrementalHash.CreateHash(HashAlgorithmName.SHA512);
        for (var i = 0; i < roundCount; i++)
        {
            round.AppendData((i & 1) != 0 ? p : c);
            if (i % 3 != 0)
            {
                round.AppendData(s);
            }

            if (i % 7 != 0)
            {
                round.AppendData(p);
            }

            round.AppendData((i & 1) != 0 ? c : p);
            c = round.GetHashAndReset();
        }

        var output = new StringBuilder("$6$");
        if (rounds is not null)
        {
            output.Append("rounds=").Append(roundCount).Append('$');
        }

        output.Append(saltText).Append('$');
        Encode(output, c);
        return output.ToString();
    }

    /// <summary>True when <paramref name="password"/> matches a <c>$6$</c> hash.</summary>
    public static bool Verify(string password, string hash)
    {
        ArgumentNullException.ThrowIfNull(hash);
        if (!hash.StartsWith("$6$", StringComparison.Ordinal))
        {
            return false;
        }

        var fields = hash[3..].Split('$');
        int? rounds = null;
        var index = 0;
        if (fields.Length == 3 && fields[0].StartsWith("rounds=", StringComparison.Ordinal)
            && int.TryParse(fields[0].AsSpan(7), System.Globalization.CultureInfo.InvariantCulture, out var parsed))
        {
            rounds = parsed;
            index = 1;
        }

        if (fields.Length != index + 2)
        {
            return false;
        }

        var expected = Encoding.ASCII.GetBytes(Hash(password, fields[index], rounds));
        return CryptographicOperations.FixedTimeEquals(expected, Encoding.ASCII.GetBytes(hash));
    }

    private static void AppendRepeated(IncrementalHash hash, byte[] block, int length)
    {
        var remaining = length;
        for (; remaining > block.Length; remaining -= block.Length)
        {
            hash.AppendData(block);
        }

        hash.AppendData(block, 0, remaining);
    }

    private static byte[] HashRepeated(byte[] data, int times)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA512);
        for (var i = 0; i < times; i++)
        {
            hash.AppendData(data);
        }

        return hash.GetHashAndReset();
    }

    private static byte[] Stretch(byte[] digest, int length)
    {
        var result = new byte[length];
        for (var offset = 0; offset < length; offset += digest.Length)
        {
            Array.Copy(digest, 0, result, offset, Math.Min(digest.Length, length - offset));
        }

        return result;
    }

    private static void Encode(StringBuilder output, byte[] c)
    {
        ReadOnlySpan<int> order =
        [
            0, 21, 42, 22, 43, 1, 44, 2, 23, 3, 24, 45, 25, 46, 4, 47, 5, 26, 6, 27, 48, 28, 49, 7,
            50, 8, 29, 9, 30, 51, 31, 52, 10, 53, 11, 32, 12, 33, 54, 34, 55, 13, 56, 14, 35, 15, 36, 57,
            37, 58, 16, 59, 17, 38, 18, 39, 60, 40, 61, 19, 62, 20, 41,
        ];
        for (var i = 0; i < order.Length; i += 3)
        {
            Encode24(output, c[order[i]], c[order[i + 1]], c[order[i + 2]], 4);
        }

        Encode24(output, 0, 0, c[63], 2);
    }

    private static void Encode24(StringBuilder output, byte high, byte middle, byte low, int characters)
    {
        var value = (high << 16) | (middle << 8) | low;
        for (var i = 0; i < characters; i++)
        {
            output.Append(Alphabet[value & 0x3f]);
            value >>= 6;
        }
    }
}
