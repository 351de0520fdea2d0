using System.Text;
using Basalt.Oci.Model;
using Basalt.Oci.Store;
using Basalt.Testing;

namespace Basalt.Oci.Tests.Store;

public sealed class BlobStoreTests
{
    private static readonly PrunePolicy UnreferencedNow = PrunePolicy.Unreferenced with { GracePeriod = TimeSpan.Zero };

    [Fact]
    public void Put_stores_content_under_its_digest()
    {
        using var temp = new TempDirectory("store");
        var store = new BlobStore(temp.Path);
        var digest = store.Put("hello"u8);
        Assert.Equal(Digest.Sha256("hello"u8), digest);
        Assert.True(store.Contains(digest));
        Assert.Equal(Path.Combine(temp.Path, "blobs", "sha256", digest.Hex), store.GetPath(digest));
        Assert.Equal("hello"u8.ToArray(), store.ReadAllBytes(digest));
        Assert.Equal(digest, store.Put("hello"u8));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(temp.Path, "tmp")));
    }

    [Fact]
    public async Task PutAsync_verifies_the_expected_digest_and_keeps_nothing_on_mismatch()
    {
        using var temp = new TempDirectory("store");
        var store = new BlobStore(temp.Path);
        var wrong = Digest.Sha256("other"u8);
        var error = await Assert.ThrowsAsync<DigestMismatchException>(() => store.PutAsync(new MemoryStream("content"u8.ToArray()), wrong));
        Assert.Equal(Digest.Sha256("content"u8), error.Actual);
        Assert.False(store.Contains(wrong));
        Assert.False(store.Contains(error.Actual));
        Assert.Empty(Directory.EnumerateFiles(Path.Combine(temp.Path, "tmp")));

        var good = await store.PutAsync(new MemoryStream("content"u8.ToArray()), Digest.Sha256("content"u8));
        Assert.True(store.Contains(good));
    }

    [Fact]
    public void OpenRead_of_a_missing_blob_is_a_typed_error()
    {
        using var temp = new TempDirectory("store");
        var store = new BlobStore(temp.Path);
        var missing = Digest.Sha256("nope"u8);
        var error = Assert.Throws<BlobNotFoundException>(() => store.OpenRead(missing));
        Assert.Equal(missing, error.Digest);
    }

    [Fact]
    public void Partial_path_is_stable_for_resuming()
    {
        using var temp = new TempDirectory("store");
        var store = new BlobStore(temp.Path);
        var digest = Digest.Sha256("x"u8);
        Assert.Equal(store.GetPartialPath(digest), new BlobStore(temp.Path).GetPartialPath(digest));
        Assert.Equal(Path.Combine(temp.Path, "tmp", $"sha256-{digest.Hex}.partial"), store.GetPartialPath(digest));
    }

    [Fact]
    public void Commit_hashes_the_partial_and_moves_it_into_place()
    {
        using var temp = new TempDirectory("store");
        var store = new BlobStore(temp.Path);
        var digest = Digest.Sha256("downloaded"u8);
        var partial = store.GetPartialPath(digest);
        File.WriteAllText(partial, "downloaded");
        store.Commit(digest, partial);
        Assert.False(File.Exists(partial));
        Assert.Equal("downloaded", File.ReadAllText(store.GetPath(digest)));
    }

    [Fact]
    public void Commit_with_wrong_content_deletes_the_partial_and_stores_nothing()
    {
        using var temp = new TempDirectory("store");
        var store = new BlobStore(temp.Path);
        var digest = Digest.Sha256("expected"u8);
        var partial = store.GetPartialPath(digest);
        File.WriteAllText(partial, "corrupted");
        var error = Assert.Throws<DigestMismatchException>(() => store.Commit(digest, partial));
        Assert.Equal(digest, error.Expected);
        Assert.False(File.Exists(partial));
        Assert.False(store.Contains(digest));
    }

    [Fact]
    public void Concurrent_identical_commits_both_succeed()
    {
        using var temp = new TempDirectory("store");
        var store = new BlobStore(temp.Path);
        var content = Encoding.UTF8.GetBytes(new string('z', 1 << 20));
        var digest = Digest.Sha256(content);
        Parallel.For(0, 8, i =>
        {
            var mine = Path.Combine(temp.Path, $"download-{i}");
            File.WriteAllBytes(mine, content);
            new BlobStore(temp.Path).CommitVerified(digest, mine);
        });
        Assert.Equal(content, store.ReadAllBytes(digest));
        var again = store.GetPartialPath(digest);
        Assert.Equal(store.GetPath(digest), store.CommitVerified(digest, again)); // already committed by someone else
    }

    [Fact]
    public async Task Readers_never_see_a_half_written_blob()
    {
        using var temp = new TempDirectory("store");
        var store = new BlobStore(temp.Path);
        var content = new byte[8 << 20];
        new Random(7).NextBytes(content);
        var digest = Digest.Sha256(content);
        using var done = new CancellationTokenSource();
        var observer = Task.Run(() =>
        {
            var seen = 0;
            while (!done.IsCancellationRequested)
            {
                if (File.Exists(store.GetPath(digest)))
                {
                    Assert.Equal(content.Length, new FileInfo(store.GetPath(digest)).Length);
                    seen++;
                }
            }

            return seen;
        });
        await store.PutAsync(new SlowStream(content), digest);
        await done.CancelAsync();
        await observer;
        Assert.True(store.Contains(digest));
    }

    [Fact]
    public void References_round_trip_with_names_that_are_not_file_names()
    {
        using var temp = new TempDirectory("store");
        var store = new BlobStore(temp.Path);
        var a = Digest.Sha256("a"u8);
        var b = Digest.Sha256("b"u8);
        var names = new[]
        {
            "docker.io/library/debian:bookworm",
            "localhost:5000/x/y@sha256:" + new string('0', 64),
            "../../etc/passwd",
            ".hidden",
            "registry.example/" + new string('n', 300) + ":tag",
        };
        foreach (var name in names)
        {
            store.SetReference(name, a);
        }

        store.SetReference(names[0], b);
        Assert.True(store.TryGetReference(names[0], out var got));
        Assert.Equal(b, got);
        Assert.All(names[1..], n => Assert.True(store.TryGetReference(n, out var d) && d == a));
        Assert.Equal(names.Order(StringComparer.Ordinal), store.ListReferences().Select(r => r.Name));
        Assert.False(File.Exists(Path.Combine(temp.Path, "etc", "passwd")));

        Assert.True(store.RemoveReference(names[2]));
        Assert.False(store.RemoveReference(names[2]));
        Assert.False(store.TryGetReference(names[2], out _));
        Assert.Equal(names.Length - 1, store.ListReferences().Count);
    }

    [Fact]
    public void List_reports_digest_and_size()
    {
        using var temp = new TempDirectory("store");
        var store = new BlobStore(temp.Path);
        var one = store.Put("1"u8);
        var two = store.Put("22"u8);
        var listed = store.List();
        Assert.Equal(new[] { one, two }.OrderBy(d => d.Value, StringComparer.Ordinal), listed.Select(b => b.Digest));
        Assert.Equal(2, listed.Single(b => b.Digest == two).Size);
    }

    [Fact]
    public void Prune_unreferenced_keeps_everything_reachable_through_indexes_and_manifests()
    {
        using var temp = new TempDirectory("store");
        var store = new BlobStore(temp.Path);
        var layer = store.Put("layer bytes"u8);
        var config = store.Put("{\"architecture\":\"amd64\",\"os\":\"linux\"}"u8);
        var manifest = store.Put(Encoding.UTF8.GetBytes(
            $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","config":{"mediaType":"{{MediaTypes.OciConfig}}","digest":"{{config}}","size":1},"layers":[{"mediaType":"{{MediaTypes.OciLayerGzip}}","digest":"{{layer}}","size":11}]}"""));
        var index = store.Put(Encoding.UTF8.GetBytes(
            $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciIndex}}","manifests":[{"mediaType":"{{MediaTypes.OciManifest}}","digest":"{{manifest}}","size":1}]}"""));
        var orphan = store.Put("orphan"u8);
        var malformed = store.Put("{ not json"u8);
        store.SetReference("example/image:1", index);
        store.SetReference("example/broken:1", malformed);

        var result = store.Prune(UnreferencedNow);

        Assert.Equal([orphan], result.RemovedBlobs);
        Assert.Equal("orphan".Length, result.BytesFreed);
        Assert.All(new[] { layer, config, manifest, index, malformed }, d => Assert.True(store.Contains(d)));
        Assert.False(store.Contains(orphan));
    }

    [Fact]
    public void Prune_keeping_only_some_images_removes_the_others_blobs_and_names_but_not_what_they_share()
    {
        using var temp = new TempDirectory("store");
        var store = new BlobStore(temp.Path);
        var shared = store.Put("base layer"u8);
        Digest Image(string name)
        {
            var layer = store.Put(Encoding.UTF8.GetBytes(name + " layer"));
            var config = store.Put(Encoding.UTF8.GetBytes($$"""{"architecture":"amd64","os":"linux","created":"{{name}}"}"""));
            var manifest = store.Put(Encoding.UTF8.GetBytes(
                $$"""{"schemaVersion":2,"mediaType":"{{MediaTypes.OciManifest}}","config":{"mediaType":"{{MediaTypes.OciConfig}}","digest":"{{config}}","size":1},"layers":[{"mediaType":"{{MediaTypes.OciLayerGzip}}","digest":"{{shared}}","size":10},{"mediaType":"{{MediaTypes.OciLayerGzip}}","digest":"{{layer}}","size":1}]}"""));
            store.SetReference("example/os:" + name, manifest);
            return manifest;
        }

        var retired = Image("v1");
        var active = Image("v2");
        var passive = Image("v3");
        var unrelated = store.Put("an unreferenced leftover"u8);

        var result = store.Prune(PrunePolicy.KeepingOnly([active, passive]) with { GracePeriod = TimeSpan.Zero });

        Assert.Equal(4, result.RemovedBlobs.Count); // v1's manifest, config and own layer, and the leftover
        Assert.Contains(unrelated, result.RemovedBlobs);
        Assert.False(store.Contains(retired));
        Assert.True(store.Contains(shared));
        Assert.True(store.Contains(active) && store.Contains(passive));
        Assert.Equal(["example/os:v1"], result.RemovedReferences);
        Assert.Equal(["example/os:v2", "example/os:v3"], store.ListReferences().Select(r => r.Name).Order(StringComparer.Ordinal));
        Assert.Empty(store.Prune(PrunePolicy.KeepingOnly([active, passive]) with { GracePeriod = TimeSpan.Zero }).RemovedBlobs);
    }

    [Fact]
    public void Prune_respects_the_grace_period_and_in_flight_partials()
    {
        using var temp = new TempDirectory("store");
        var store = new BlobStore(temp.Path);
        var fresh = store.Put("fresh"u8);
        Assert.Empty(store.Prune(PrunePolicy.Unreferenced).RemovedBlobs); // within the default grace period

        File.WriteAllText(store.GetPartialPath(fresh), "fr");
        Assert.Empty(store.Prune(UnreferencedNow).RemovedBlobs); // a download of it is in flight
        Assert.Empty(store.Prune(PrunePolicy.All).RemovedBlobs);

        var stale = store.GetPartialPath(Digest.Sha256("stale"u8));
        File.WriteAllText(stale, "st");
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow.AddDays(-2));
        File.SetLastWriteTimeUtc(store.GetPartialPath(fresh), DateTime.UtcNow.AddDays(-2));
        var result = store.Prune(UnreferencedNow);
        Assert.Equal(2, result.RemovedPartials.Count);
        Assert.Equal([fresh], result.RemovedBlobs);
    }

    [Fact]
    public void Prune_all_removes_every_blob_and_reference()
    {
        using var temp = new TempDirectory("store");
        var store = new BlobStore(temp.Path);
        var kept = store.Put("x"u8);
        store.SetReference("a:b", kept);
        var result = store.Prune(PrunePolicy.All);
        Assert.Equal([kept], result.RemovedBlobs);
        Assert.Equal(["a:b"], result.RemovedReferences);
        Assert.Empty(store.List());
        Assert.Empty(store.ListReferences());
    }

    [Fact]
    public void Default_root_follows_the_user()
    {
        var root = BlobStore.DefaultRoot();
        if (Basalt.Platform.Posix.IsRoot)
        {
            Assert.Equal("/var/cache/basalt", root);
        }
        else
        {
            Assert.EndsWith("basalt", root, StringComparison.Ordinal);
        }
    }

    /// <summary>Hands out content in small pieces with pauses, so a reader has time to look.</summary>
    private sealed class SlowStream(byte[] content) : MemoryStream(content)
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            await Task.Yield();
            return await base.ReadAsync(buffer[..Math.Min(buffer.Length, 256 << 10)], cancellationToken);
        }
    }
}
