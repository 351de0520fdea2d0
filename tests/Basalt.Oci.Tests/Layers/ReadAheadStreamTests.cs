using Basalt.Oci.Layers;

namespace Basalt.Oci.Tests.Layers;

public sealed class ReadAheadStreamTests
{
    [Fact]
    public async Task Gives_every_byte_of_its_source_in_order_whatever_the_read_sizes()
    {
        var content = new byte[(3 << 18) + 12345];
        new Random(7).NextBytes(content);
        await using var stream = new ReadAheadStream(new MemoryStream(content), chunksAhead: 2);
        using var copy = new MemoryStream();
        var buffer = new byte[7919];
        int read;
        while ((read = await stream.ReadAsync(buffer.AsMemory(0, Random.Shared.Next(1, buffer.Length)))) > 0)
        {
            copy.Write(buffer, 0, read);
        }

        Assert.Equal(content, copy.ToArray());
        Assert.Equal(0, stream.Read(buffer, 0, buffer.Length));
    }

    [Fact]
    public async Task A_failure_of_the_source_reaches_the_reader_as_itself()
    {
        await using var stream = new ReadAheadStream(new FailingStream(1000));
        var buffer = new byte[4096];

        var error = await Assert.ThrowsAsync<InvalidDataException>(async () =>
        {
            while (await stream.ReadAsync(buffer) > 0)
            {
            }
        });
        Assert.Equal("broken after 1000 bytes", error.Message);
    }

    [Fact]
    public async Task A_corrupt_gzip_layer_still_fails_the_unpack_as_a_corrupt_layer()
    {
        using var temp = new Basalt.Testing.TempDirectory("readahead-corrupt");
        var tar = new TarBuilder().File("big", new string('x', 1 << 20)).ToArray();
        var gzip = LayerFiles.Gzip(tar);
        gzip.AsSpan(gzip.Length / 2, 64).Fill(0x55);
        var path = temp.Combine("layer.tar.gz");
        await File.WriteAllBytesAsync(path, gzip);

        await Assert.ThrowsAsync<CorruptLayerException>(() =>
            new LayerApplier().ApplyAsync(temp.Combine("rootfs"), [new LayerBlob(path, Basalt.Oci.Model.MediaTypes.OciLayerGzip)], new LayerApplyOptions { Privileged = false }));
        LayerFiles.AssertNothingLeft(temp.Path, "rootfs");
    }

    private sealed class FailingStream(int failAfter) : Stream
    {
        private int _given;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();

        public override long Position
        {
            get => throw new NotSupportedException();
            set => throw new NotSupportedException();
        }

        public override int Read(byte[] buffer, int offset, int count)
        {
            if (_given >= failAfter)
            {
                throw new InvalidDataException($"broken after {failAfter} bytes");
            }

            var n = Math.Min(count, failAfter - _given);
            _given += n;
            return n;
        }

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
