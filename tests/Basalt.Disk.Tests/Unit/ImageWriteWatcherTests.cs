using Basalt.Disk.Assembly;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Disk.Tests.Unit;

public sealed class ImageWriteWatcherTests
{
    private const int MiB = 1024 * 1024;

    [Fact]
    public async Task The_growth_of_an_image_built_aside_is_reported_while_it_is_written_and_once_when_done()
    {
        using var temp = new TempDirectory("image-watch");
        var target = temp.Combine("active.img");
        var recorder = new RecordingProgress<ImageWriteUpdate>();

        var result = await ImageWriteWatcher.WatchAsync(target, 4 * MiB, recorder, async () =>
        {
            // Built as a temporary sibling, then renamed: the way every image builder publishes its output.
            var temporary = AtomicFile.TemporarySibling(target);
            await using (var stream = new FileStream(temporary, FileMode.CreateNew))
            {
                for (var chunk = 0; chunk < 4; chunk++)
                {
                    await stream.WriteAsync(Enumerable.Repeat((byte)1, MiB).ToArray());
                    await stream.FlushAsync();
                    await Task.Delay(150);
                }
            }

            File.Move(temporary, target);
            return "built";
        }, TimeSpan.FromMilliseconds(20));

        Assert.Equal("built", result);
        var updates = recorder.Updates;
        Assert.Equal(new ImageWriteUpdate("active.img", 0, 4 * MiB, Done: false), updates[0]);
        Assert.Contains(updates, update => !update.Done && update.BytesWritten is > 0 and < 4 * MiB);
        Assert.Equal(new ImageWriteUpdate("active.img", Posix.GetStatus(target).AllocatedBytes, 4 * MiB, Done: true), updates[^1]);
        Assert.Single(updates, update => update.Done);
        Assert.True(updates[^1].BytesWritten >= 4 * MiB);
    }

    [Fact]
    public async Task A_failed_write_is_not_reported_as_done_and_its_error_comes_through()
    {
        using var temp = new TempDirectory("image-watch");
        var recorder = new RecordingProgress<ImageWriteUpdate>();

        await Assert.ThrowsAsync<IOException>(() => ImageWriteWatcher.WatchAsync(temp.Combine("disk.raw"), 0, recorder, () => throw new IOException("no space left on device"), TimeSpan.FromMilliseconds(20)));

        Assert.DoesNotContain(recorder.Updates, update => update.Done);
    }

    [Fact]
    public async Task Without_a_listener_the_write_just_runs()
    {
        using var temp = new TempDirectory("image-watch");
        var ran = false;
        await ImageWriteWatcher.WatchAsync(temp.Combine("x.img"), 0, null, () =>
        {
            ran = true;
            return Task.CompletedTask;
        });
        Assert.True(ran);
    }

    [Fact]
    public void Written_bytes_count_the_image_and_its_temporary_siblings_only()
    {
        using var temp = new TempDirectory("image-watch");
        var target = temp.Combine("disk.raw");
        File.WriteAllBytes(target, new byte[8192]);
        File.WriteAllBytes(AtomicFile.TemporarySibling(target), new byte[8192]);
        File.WriteAllBytes(temp.Combine("disk.raw.bak"), new byte[65536]);
        File.WriteAllBytes(temp.Combine("other.img"), new byte[65536]);

        Assert.Equal(Posix.GetStatus(target).AllocatedBytes * 2, ImageWriteWatcher.WrittenBytes(target));
        Assert.Equal(0, ImageWriteWatcher.WrittenBytes(temp.Combine("missing", "disk.raw")));
    }
}
