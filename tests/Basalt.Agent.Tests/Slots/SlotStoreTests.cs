using Basalt.Agent.Slots;
using Basalt.Testing;

namespace Basalt.Agent.Tests.Slots;

public sealed class SlotStoreTests
{
    private static readonly DateTimeOffset Built = new(2026, 11, 1, 8, 30, 0, TimeSpan.Zero);
    private static readonly DateTimeOffset Written = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    private static SlotInfo Image(string slot, string tag, string digest) =>
        new(slot, $"registry.local/os:{tag}", digest, Built, Written);

    [Fact]
    public void A_missing_file_is_an_empty_table()
    {
        using var temp = new TempDirectory("slots");

        Assert.Empty(new SlotStore(temp.Combine("cOS", "slots.json")).Read().Slots);
    }

    [Fact]
    public async Task A_written_table_reads_back_and_leaves_no_temporary_file()
    {
        using var temp = new TempDirectory("slots");
        var store = new SlotStore(temp.Combine("cOS", "slots.json"));
        var table = SlotTable.From([Image("recovery", "v1", "sha256:11"), Image("active", "v2", "sha256:22"), new SlotInfo("passive", "dir:/tmp/tree", null, null, Written)]);

        await store.WriteAsync(table);
        var read = await store.ReadAsync();

        Assert.Equal(table.Slots, read.Slots);
        Assert.Equal(["active", "passive", "recovery"], read.Slots.Select(s => s.Slot));
        Assert.Equal(["slots.json"], Directory.GetFiles(temp.Combine("cOS")).Select(Path.GetFileName));
    }

    [Fact]
    public void Rewriting_replaces_the_whole_table()
    {
        using var temp = new TempDirectory("slots");
        var store = new SlotStore(temp.Combine("slots.json"));
        store.Write(SlotTable.From([Image("active", "v1", "sha256:11"), Image("passive", "v0", "sha256:00")]));

        store.Write(SlotTable.From([Image("active", "v2", "sha256:22")]));

        Assert.Equal("sha256:22", Assert.Single(store.Read().Slots).Digest);
    }

    [Theory]
    [InlineData("{not json")]
    [InlineData("{\"version\":2,\"slots\":[]}")]
    [InlineData("{\"version\":1}")]
    [InlineData("{\"version\":1,\"slots\":[{\"slot\":\"other\",\"imageReference\":\"x\",\"writtenAt\":\"2026-11-22T12:00:00+00:00\"}]}")]
    [InlineData("{\"version\":1,\"slots\":[{\"slot\":\"active\",\"imageReference\":\"x\",\"writtenAt\":\"2026-11-22T12:00:00+00:00\"},{\"slot\":\"active\",\"imageReference\":\"y\",\"writtenAt\":\"2026-11-22T12:00:00+00:00\"}]}")]
    public void A_damaged_file_is_a_typed_error(string content)
    {
        using var temp = new TempDirectory("slots");
        var path = temp.Combine("slots.json");
        File.WriteAllText(path, content);

        var error = Assert.Throws<SlotsFileUnreadableException>(() => new SlotStore(path).Read());
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_upgrade_moves_the_old_active_to_passive()
    {
        var before = SlotTable.From([Image("active", "v1", "sha256:11"), Image("passive", "v0", "sha256:00"), Image("recovery", "r", "sha256:rr")]);

        var after = before.AfterUpgrade(Image("transition", "v2", "sha256:22") with { Slot = "active" });

        Assert.Equal("sha256:22", after.Active?.Digest);
        Assert.Equal("sha256:11", after.Passive?.Digest);
        Assert.Equal("passive", after.Passive?.Slot);
        Assert.Equal("sha256:rr", after.Recovery?.Digest);
    }

    [Fact]
    public void A_rollback_swaps_active_and_passive()
    {
        var before = SlotTable.From([Image("active", "v2", "sha256:22"), Image("passive", "v1", "sha256:11")]);

        var after = before.AfterRollback();

        Assert.Equal(("active", "sha256:11"), (after.Active!.Slot, after.Active.Digest));
        Assert.Equal(("passive", "sha256:22"), (after.Passive!.Slot, after.Passive.Digest));
    }

    [Fact]
    public void An_unknown_slot_name_is_refused()
    {
        Assert.Throws<ArgumentException>(() => SlotTable.Empty.With(Image("transition", "v2", "sha256:22")));
    }
}
