using Basalt.Agent.History;
using Basalt.Testing;

namespace Basalt.Agent.Tests.History;

public sealed class FileLifecycleHistoryTests
{
    private static readonly DateTimeOffset Noon = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    [Fact]
    public async Task A_missing_file_is_an_empty_history()
    {
        using var temp = new TempDirectory("history");
        var history = new FileLifecycleHistory(temp.Combine("none", "history.jsonl"));

        Assert.Empty(await history.ReadAsync());
    }

    [Fact]
    public async Task Appended_records_read_back_in_order_with_every_field()
    {
        using var temp = new TempDirectory("history");
        var path = temp.Combine(".basalt", "history.jsonl");
        var history = new FileLifecycleHistory(path);
        var install = new LifecycleRecord(LifecycleOperations.Install, Noon, LifecycleOperations.Succeeded, "active", "registry.local/os:v1", null, "sha256:aa");
        var upgrade = new LifecycleRecord(LifecycleOperations.Upgrade, Noon.AddHours(1), LifecycleOperations.Failed, "active", "registry.local/os:v2", "sha256:aa", "sha256:bb", "no space");

        await history.AppendAsync(install);
        await history.AppendAsync(upgrade);

        Assert.Equal([install, upgrade], await history.ReadAsync());
        var lines = File.ReadAllLines(path);
        Assert.Equal(2, lines.Length);
        Assert.Contains("\"operation\":\"upgrade\"", lines[1], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_torn_last_line_is_skipped_and_reported_not_fatal()
    {
        using var temp = new TempDirectory("history");
        var path = temp.Combine("history.jsonl");
        var history = new FileLifecycleHistory(path);
        var first = new LifecycleRecord(LifecycleOperations.Install, Noon, LifecycleOperations.Succeeded);
        await history.AppendAsync(first);
        await File.AppendAllTextAsync(path, "{\"operation\":\"upgr");

        var contents = await history.ReadContentsAsync();

        Assert.Equal([first], contents.Records);
        var skipped = Assert.Single(contents.Skipped);
        Assert.Equal(2, skipped.LineNumber);
        Assert.True(skipped.Torn);
        Assert.True(contents.HasTornLastLine);
    }

    [Fact]
    public async Task An_append_after_a_torn_line_starts_on_a_fresh_line()
    {
        using var temp = new TempDirectory("history");
        var path = temp.Combine("history.jsonl");
        var history = new FileLifecycleHistory(path);
        var first = new LifecycleRecord(LifecycleOperations.Install, Noon, LifecycleOperations.Succeeded);
        var next = new LifecycleRecord(LifecycleOperations.Reset, Noon.AddDays(1), LifecycleOperations.Succeeded);
        await history.AppendAsync(first);
        await File.AppendAllTextAsync(path, "{\"operation\":\"upgr");

        await history.AppendAsync(next);

        var contents = await history.ReadContentsAsync();
        Assert.Equal([first, next], contents.Records);
        var skipped = Assert.Single(contents.Skipped);
        Assert.False(skipped.Torn);
        Assert.Equal(2, skipped.LineNumber);
    }

    [Fact]
    public void A_line_without_operation_is_skipped_not_read_as_a_record()
    {
        var contents = FileLifecycleHistory.Parse("{\"at\":\"2026-11-22T12:00:00+00:00\",\"outcome\":\"succeeded\"}\n\n");

        Assert.Empty(contents.Records);
        Assert.False(Assert.Single(contents.Skipped).Torn);
    }

    [Fact]
    public async Task A_record_without_a_time_is_refused_before_anything_is_written()
    {
        using var temp = new TempDirectory("history");
        var path = temp.Combine("history.jsonl");
        var history = new FileLifecycleHistory(path);

        await Assert.ThrowsAsync<ArgumentException>(() => history.AppendAsync(new LifecycleRecord(LifecycleOperations.Install, default, LifecycleOperations.Succeeded)));
        Assert.False(File.Exists(path));
    }
}
