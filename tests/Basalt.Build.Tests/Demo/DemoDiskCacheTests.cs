using Basalt.Build.Demo;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Build.Tests.Demo;

public sealed class DemoDiskCacheTests : IDisposable
{
    private const long MiB = 1024 * 1024;
    private const long DiskBytes = 256 * MiB;

    private readonly TempDirectory _temp = new("demo-disk-cache");
    private int _builds;

    public void Dispose() => _temp.Dispose();

    private DemoDiskCache Cache => new(_temp.Combine("cache", "disk"));

    private string Destination => _temp.Combine("work", "node.raw");

    /// <summary>A stand-in for the disk build: a sparse file with <paramref name="marker"/> at 1 MiB and at its end.</summary>
    private Func<string, CancellationToken, Task> Build(byte marker) => (path, _) =>
    {
        _builds++;
        using var disk = File.OpenHandle(path, FileMode.CreateNew, FileAccess.ReadWrite);
        RandomAccess.SetLength(disk, DiskBytes);
        RandomAccess.Write(disk, Enumerable.Repeat(marker, 4096).ToArray(), MiB);
        RandomAccess.Write(disk, Enumerable.Repeat(marker, 4096).ToArray(), DiskBytes - 4096);
        return Task.CompletedTask;
    };

    private static byte MarkerOf(string disk)
    {
        using var handle = File.OpenHandle(disk, FileMode.Open, FileAccess.Read);
        var first = new byte[1];
        var last = new byte[1];
        RandomAccess.Read(handle, first, MiB);
        RandomAccess.Read(handle, last, DiskBytes - 1);
        Assert.Equal(first[0], last[0]);
        return first[0];
    }

    [Fact]
    public async Task The_first_run_builds_into_the_cache_and_a_second_run_copies_without_building()
    {
        Directory.CreateDirectory(_temp.Combine("work"));
        var key = DemoDiskCache.Key("sha256:aaa", DiskBytes, "binary password");

        Assert.False(await Cache.CopyToAsync(key, Destination, Build(1), CancellationToken.None));
        Assert.Equal(1, MarkerOf(Destination));
        File.Delete(Destination);

        Assert.True(await Cache.CopyToAsync(key, Destination, Build(2), CancellationToken.None));
        Assert.Equal(1, _builds);
        Assert.Equal(1, MarkerOf(Destination));
        var copy = Posix.GetStatus(Destination);
        Assert.Equal(DiskBytes, copy.Size);
        Assert.True(copy.AllocatedBytes <= MiB, $"the copy occupies {copy.AllocatedBytes} bytes: it must stay sparse");
    }

    [Fact]
    public async Task A_disk_for_another_image_size_or_basalt_is_built_again_and_replaces_the_old_one()
    {
        Directory.CreateDirectory(_temp.Combine("work"));
        await Cache.CopyToAsync(DemoDiskCache.Key("sha256:aaa", DiskBytes, "binary-1 pw"), Destination, Build(1), CancellationToken.None);

        Assert.False(await Cache.CopyToAsync(DemoDiskCache.Key("sha256:aaa", DiskBytes, "binary-2 pw"), Destination, Build(2), CancellationToken.None));
        Assert.Equal(2, MarkerOf(Destination));
        Assert.False(await Cache.CopyToAsync(DemoDiskCache.Key("sha256:bbb", DiskBytes, "binary-2 pw"), Destination, Build(3), CancellationToken.None));
        Assert.False(await Cache.CopyToAsync(DemoDiskCache.Key("sha256:bbb", 2 * DiskBytes, "binary-2 pw"), Destination, Build(4), CancellationToken.None));
        Assert.Equal(4, _builds);
        Assert.Equal(4, MarkerOf(Cache.DiskPath));
    }

    [Fact]
    public async Task A_failed_build_leaves_no_entry_and_the_next_run_builds_again()
    {
        Directory.CreateDirectory(_temp.Combine("work"));
        var key = DemoDiskCache.Key("sha256:aaa", DiskBytes, "stamp");
        await Assert.ThrowsAsync<IOException>(() => Cache.CopyToAsync(key, Destination, async (path, token) =>
        {
            await Build(9)(path, token);
            throw new IOException("no space left on device");
        }, CancellationToken.None));

        Assert.False(Cache.Holds(key));
        Assert.False(File.Exists(Cache.DiskPath), "a half-built disk is removed");
        Assert.False(File.Exists(Destination));
        Assert.False(await Cache.CopyToAsync(key, Destination, Build(1), CancellationToken.None));
        Assert.Equal(1, MarkerOf(Destination));
    }

    [Fact]
    public async Task A_build_that_writes_no_disk_is_a_typed_error_and_caches_nothing()
    {
        var key = DemoDiskCache.Key("sha256:aaa", DiskBytes, "stamp");
        var error = await Assert.ThrowsAsync<DemoCheckFailedException>(() => Cache.CopyToAsync(key, Destination, (_, _) => Task.CompletedTask, CancellationToken.None));

        Assert.Contains(DemoDiskCache.DiskName, error.Message, StringComparison.Ordinal);
        Assert.False(Cache.Holds(key));
    }

    [Fact]
    public async Task A_cached_disk_without_its_key_is_not_trusted()
    {
        Directory.CreateDirectory(_temp.Combine("work"));
        var key = DemoDiskCache.Key("sha256:aaa", DiskBytes, "stamp");
        await Cache.CopyToAsync(key, Destination, Build(1), CancellationToken.None);
        File.Delete(Path.Combine(Path.GetDirectoryName(Cache.DiskPath)!, "node.raw.key"));

        Assert.False(Cache.Holds(key));
        Assert.False(await Cache.CopyToAsync(key, Destination, Build(2), CancellationToken.None));
        Assert.Equal(2, MarkerOf(Destination));
    }

    [Theory]
    [InlineData("", 1, "stamp")]
    [InlineData("sha256:aaa", 0, "stamp")]
    [InlineData("sha256:aaa", 1, "")]
    public void A_key_needs_an_image_a_size_and_a_stamp(string digest, long bytes, string stamp) =>
        Assert.ThrowsAny<ArgumentException>(() => DemoDiskCache.Key(digest, bytes, stamp));
}
