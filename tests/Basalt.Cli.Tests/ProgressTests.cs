using Basalt.Cli.Hosting;
using Basalt.Cli.Progress;
using Basalt.Disk.Assembly;
using Basalt.Oci.Images;
using Basalt.Oci.Model;

namespace Basalt.Cli.Tests;

public sealed class ProgressTests
{
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => _ticks;

        public void Advance(TimeSpan by) => _ticks += by.Ticks;
    }

    private static readonly Digest Layer = Digest.Sha256("layer"u8);
    private static readonly Digest Other = Digest.Sha256("other"u8);

    [Theory]
    [InlineData(171, 329_781_471, "< 0.001 %")]
    [InlineData(616, 329_781, "0.187 %")]
    [InlineData(0, 1000, "0 %")]
    [InlineData(5, 0, "0 %")]
    [InlineData(1000, 1000, "100 %")]
    public void A_share_too_small_to_show_is_not_rounded_to_zero(long part, long whole, string expected) => Assert.Equal(expected, Units.Share(part, whole));

    [Theory]
    [InlineData(0, "0 B")]
    [InlineData(1023, "1023 B")]
    [InlineData(1536, "1.5 KiB")]
    [InlineData(12_897_485, "12.3 MiB")]
    [InlineData(5L << 30, "5.0 GiB")]
    public void Sizes_are_binary_units(long bytes, string expected) => Assert.Equal(expected, Units.Bytes(bytes));

    [Fact]
    public void Durations_read_like_a_clock() =>
        Assert.Equal(["0:07", "1:05", "1:01:01"], new[] { 7, 65, 3661 }.Select(s => Units.Duration(TimeSpan.FromSeconds(s))));

    [Fact]
    public void Plain_lines_name_each_finished_blob_once()
    {
        using var writer = new StringWriter();
        using var reporter = new PlainTransferReporter(writer);

        reporter.Report(new TransferUpdate(TransferPhase.Pulling, Layer, 100, 12_897_485, TransferState.Running));
        reporter.Report(new TransferUpdate(TransferPhase.Pulling, Layer, 12_897_485, 12_897_485, TransferState.Done));
        reporter.Report(new TransferUpdate(TransferPhase.Pulling, Other, 0, 2048, TransferState.Skipped));

        Assert.Equal(
            $"pulling sha256:{Layer.Short} 12.3 MiB\npulling sha256:{Other.Short} 2.0 KiB (already present)\n",
            writer.ToString());
        Assert.Equal(12_897_485, reporter.BytesTransferred);
    }

    [Fact]
    public void An_image_write_shows_a_bar_against_its_expected_size_and_a_line_when_done()
    {
        var clock = new ManualClock();
        using var writer = new StringWriter();
        var reporter = new LiveTransferReporter(writer, 120, clock);

        reporter.Report(new ImageWriteUpdate("active.img", 0, 400 << 20, Done: false));
        clock.Advance(TimeSpan.FromSeconds(2));
        reporter.Report(new ImageWriteUpdate("active.img", 100 << 20, 400 << 20, Done: false));
        Assert.Contains("writing   active.img [", writer.ToString(), StringComparison.Ordinal);
        Assert.Contains("100.0 MiB/400.0 MiB 50.0 MiB/s ETA 0:06", writer.ToString(), StringComparison.Ordinal);

        // An estimate short of what gets written fills the bar instead of overflowing it.
        clock.Advance(TimeSpan.FromSeconds(1));
        reporter.Report(new ImageWriteUpdate("active.img", 500 << 20, 400 << 20, Done: false));
        Assert.Contains("500.0 MiB/500.0 MiB", writer.ToString(), StringComparison.Ordinal);

        clock.Advance(TimeSpan.FromSeconds(1));
        reporter.Report(new ImageWriteUpdate("recovery.squashfs", 30 << 20, 0, Done: false));
        Assert.Contains("writing   recovery.squashfs 30.0 MiB", writer.ToString(), StringComparison.Ordinal);
        reporter.Report(new ImageWriteUpdate("active.img", 510 << 20, 400 << 20, Done: true));
        reporter.Dispose();

        Assert.Contains("writing   active.img done 510.0 MiB in 0:04", writer.ToString(), StringComparison.Ordinal);
        Assert.Equal(0, reporter.BytesTransferred);
    }

    [Fact]
    public void Plain_lines_name_each_written_image_once_it_is_done()
    {
        using var writer = new StringWriter();
        using var reporter = new PlainTransferReporter(writer);

        reporter.Report(new ImageWriteUpdate("active.img", 100, 4096, Done: false));
        reporter.Report(new ImageWriteUpdate("active.img", 12_897_485, 4096, Done: true));

        Assert.Equal("writing active.img 12.3 MiB\n", writer.ToString());
        Assert.Equal(0, reporter.BytesTransferred);
    }

    [Fact]
    public void Live_bars_show_bytes_rate_and_eta_and_redraw_in_place()
    {
        var clock = new ManualClock();
        using var writer = new StringWriter();
        var reporter = new LiveTransferReporter(writer, 120, clock);

        reporter.Report(new TransferUpdate(TransferPhase.Pulling, Layer, 0, 10 << 20, TransferState.Running));
        reporter.Report(new TransferUpdate(TransferPhase.Pulling, Other, 0, 1 << 20, TransferState.Running));
        clock.Advance(TimeSpan.FromSeconds(2));
        reporter.Report(new TransferUpdate(TransferPhase.Pulling, Layer, 4 << 20, 10 << 20, TransferState.Running));

        var frame = writer.ToString();
        Assert.Contains("\u001b[1A", frame, StringComparison.Ordinal);
        Assert.Contains($"pulling   sha256:{Other.Short} [", frame, StringComparison.Ordinal);
        Assert.Contains($"pulling   sha256:{Layer.Short} [", frame, StringComparison.Ordinal);
        Assert.Contains("4.0 MiB/10.0 MiB 2.0 MiB/s ETA 0:03", frame, StringComparison.Ordinal);

        clock.Advance(TimeSpan.FromSeconds(1));
        reporter.Report(new TransferUpdate(TransferPhase.Pulling, Layer, 10 << 20, 10 << 20, TransferState.Done));
        reporter.Dispose();

        var output = writer.ToString();
        Assert.Contains($"sha256:{Layer.Short} done 10.0 MiB in 0:03", output, StringComparison.Ordinal);
        Assert.Equal(10 << 20, reporter.BytesTransferred);
    }

    [Fact]
    public void Live_updates_between_redraws_are_coalesced()
    {
        var clock = new ManualClock();
        using var writer = new StringWriter();
        using var reporter = new LiveTransferReporter(writer, 80, clock);

        reporter.Report(new TransferUpdate(TransferPhase.Pulling, Layer, 0, 100, TransferState.Running));
        var afterFirst = writer.ToString().Length;
        reporter.Report(new TransferUpdate(TransferPhase.Pulling, Layer, 10, 100, TransferState.Running));
        reporter.Report(new TransferUpdate(TransferPhase.Pulling, Layer, 20, 100, TransferState.Running));

        Assert.Equal(afterFirst, writer.ToString().Length);
    }

    [Fact]
    public void Bars_are_used_only_on_a_terminal_in_text_mode()
    {
        using var writer = new StringWriter();
        var terminal = new CliEnvironment(ErrorIsTerminal: true, TerminalWidth: 100);

        using var live = TransferReporter.For(new CliConsole(writer, writer, OutputFormat.Text, false, terminal));
        using var json = TransferReporter.For(new CliConsole(writer, writer, OutputFormat.Json, false, terminal));
        using var piped = TransferReporter.For(new CliConsole(writer, writer, OutputFormat.Text, false, CliEnvironment.Redirected));

        Assert.IsType<LiveTransferReporter>(live);
        Assert.IsType<PlainTransferReporter>(json);
        Assert.IsType<PlainTransferReporter>(piped);
    }
}
