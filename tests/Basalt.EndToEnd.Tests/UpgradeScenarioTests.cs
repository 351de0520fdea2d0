using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Basalt.Agent.Node;
using Basalt.Agent.Slots;
using Basalt.Build.Artifacts;
using Basalt.Disk;
using Basalt.Disk.Layout;
using Basalt.Oci.Images;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;
using Basalt.Testing;
using Xunit.Abstractions;

namespace Basalt.EndToEnd.Tests;

/// <summary>
/// The life of a node, end to end, in one VM: a copy of the fixture's disk (v1, its digest recorded in the slots,
/// its layer already in the node's blob store on COS_PERSISTENT), images on a real registry on the host reached
/// through QEMU user networking, <c>basalt upgrade</c> run in the guest. Ten boots: v1 (the immutable layout and the
/// node's cloud-config); v2 after the upgrade (and what a reboot keeps and drops); the broken v3 twice, its init failing
/// each of its two tries; the fallback to v2 that follows by itself; v2 on passive, broken too, failing its two tries;
/// recovery, reached by itself; the active system <c>basalt reset</c> remade from recovery; and the recovery system upgraded to v2 by
/// <c>basalt upgrade --recovery</c>, booted once through <c>basalt bootentry</c>.
/// </summary>
[Collection(BasaltOsCollection.Name)]
[Trait(Tiers.Key, Tiers.EndToEnd)]
public sealed class UpgradeScenarioTests : IDisposable
{
    private const string Repository = "basalt-e2e/node";
    private const string MarkerPath = "/usr/share/basalt-e2e/version";

    /// <summary>Room on COS_PERSISTENT for the node's blob store and the staged tree of an upgrade.</summary>
    private const long PersistentGrowth = 3 * ByteSize.GiB;

    private const string StateImages = "/run/initramfs/cos-state/cOS";

    /// <summary>A guest-side upgrade unpacks the whole tree and builds an ext4 image of it under TCG on a loaded machine.</summary>
    private static readonly TimeSpan UpgradeTimeout = TimeSpan.FromMinutes(40);

    private readonly BasaltOsFixture _os;
    private readonly ITestOutputHelper _output;
    private readonly TempDirectory _temp = new("e2e-upgrade");

    public UpgradeScenarioTests(BasaltOsFixture os, ITestOutputHelper output)
    {
        E2eRequirements.Check();
        Requires.Tool("docker-registry", "docker-registry");
        _os = os;
        _output = output;
        os.WriteLogTo(_output);
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task A_node_upgrades_from_a_registry_fetching_only_the_new_layer_ignores_the_same_digest_falls_back_from_a_broken_image_reaches_recovery_and_is_reset()
    {
        await using var registry = await RegistryFixture.StartAsync();
        var guestRegistry = $"10.0.2.2:{registry.Port.ToString(CultureInfo.InvariantCulture)}";
        using var client = new RegistryClient(new RegistryOptions { InsecureRegistries = new HashSet<string>(StringComparer.OrdinalIgnoreCase) { registry.Host } });
        var images = new LayeredImages(client, $"{registry.Host}/{Repository}", _temp.Combine("images"));

        // v1: the OS tree the fixture built, its blobs kept in what becomes the node's blob store on COS_PERSISTENT.
        var persistentContent = _temp.Combine("persistent");
        var nodeStore = new BlobStore(new NodePaths { PersistentMount = persistentContent }.BlobStore);
        var v1 = await Timed("push v1 (the OS tree as one layer)", () => images.PushTreeAsync(_os.RootDirectory, "v1", nodeStore));
        var v2 = await Timed("push v2 (v1 + a marker layer)", () => images.PushWithLayerAsync(v1, MarkerLayer("v2"), "v2", "e2e: add the v2 marker"));
        var v3 = await Timed("push v3 (v2 + an init that fails)", () => images.PushWithLayerAsync(v2, BrokenInitLayer(), "v3", "e2e: /sbin/init is /bin/false"));
        foreach (var image in new[] { v1, v2, v3 })
        {
            _output.WriteLine($"{image.Tag}: {image.Digest}, {image.Layers.Count} layers, {image.TotalBytes} bytes (last layer {image.Layers[^1].Size} bytes)");
        }

        var disk = await Timed("build the v1 node disk", () => BuildNodeDiskAsync(persistentContent, $"{guestRegistry}/{Repository}:v1", v1));

        await NodeChecks.WriteCloudConfigAsync(_os.Runner, disk);

        // Boot 1, v1: the immutable layout and the node's cloud-config.
        await using var guest = await BootedDisk.BootAsync(disk, _temp.Combine("vm"), _os.Runner, network: true);
        await PrepareShellAsync(guest);
        await NodeChecks.ExpectRootImageAsync(guest, "/cOS/active.img", KairosLayout.ActiveImageLabel, "active");
        await NodeChecks.ExpectCloudConfigAppliedAsync(guest, bootStageRuns: 1);
        await guest.CheckAsync("findmnt -n /oem", "COS_OEM is mounted at /oem");
        await guest.ExpectOutputAsync("findmnt -n -o SOURCE /usr/local && blkid -o value -s LABEL $(findmnt -n -o SOURCE /usr/local)", "COS_PERSISTENT", "COS_PERSISTENT is mounted at /usr/local");
        await guest.CheckAsync("echo e2e > /etc/basalt-e2e && test -s /etc/basalt-e2e", "/etc is writable");
        var v1State = await StateAsync(guest);
        ExpectSlot(v1State, SlotNames.Active, $"{guestRegistry}/{Repository}:v1", v1.Digest.Value, "the v1 disk's active slot names v1 and its digest");
        await guest.CheckAsync("mkdir -p /home/e2e && echo kept-home > /home/e2e/data && echo kept-local > /usr/local/e2e-data && sync", "persistent data is written");
        await WaitForNetworkAsync(guest);

        // v1 -> v2: only the marker layer (and the new config) crosses the wire.
        var toV2 = await UpgradeAsync(guest, guestRegistry, "v2", "--boot-tries 2");
        Assert.Equal("upgraded", toV2.GetProperty("outcome").GetString());
        var fetched = toV2.GetProperty("bytesTransferred").GetInt64();
        var newBytes = v2.Layers[^1].Size + v2.Config.Size;
        _output.WriteLine($"v1 -> v2 fetched {fetched} bytes ({toV2.GetProperty("blobsTransferred").GetInt32()} blobs, {toV2.GetProperty("blobsSkipped").GetInt32()} on the node); new layer + config {newBytes} bytes; full image {v2.TotalBytes} bytes ({100.0 * fetched / v2.TotalBytes:0.000} %)");
        Assert.True(fetched > 0 && fetched <= newBytes + 64 * 1024, $"the upgrade fetches about the new layer ({newBytes} bytes), not {fetched}");
        Assert.True(fetched * 100 < v2.TotalBytes, $"the upgrade fetched {fetched} bytes of a {v2.TotalBytes}-byte image: more than 1 %");

        // Boot 2, v2.
        await guest.RebootAsync();
        await PrepareShellAsync(guest);
        await guest.ExpectOutputAsync($"cat {MarkerPath}", "v2", "the node runs v2 after the reboot");
        await NodeChecks.ExpectRootImageAsync(guest, "/cOS/active.img", KairosLayout.ActiveImageLabel, "active");
        await NodeChecks.ExpectCloudConfigAppliedAsync(guest, bootStageRuns: 2);
        await guest.ExpectOutputAsync("systemctl is-active basalt-e2e.service; cat /usr/local/e2e-unit.log", "ran", "the unit the cloud-config enabled ran at the next boot");
        await guest.CheckAsync("test ! -e /etc/basalt-e2e", "a file written to /etc is gone after a reboot");
        await guest.CheckAsync("systemctl start basalt-boot-complete.service", "the v2 boot passes its health gate and is marked good");
        var v2State = await StateAsync(guest);
        ExpectSlot(v2State, SlotNames.Active, $"{guestRegistry}/{Repository}:v2", v2.Digest.Value, "after the upgrade v2 is active");
        ExpectSlot(v2State, SlotNames.Passive, $"{guestRegistry}/{Repository}:v1", v1.Digest.Value, "after the upgrade v1 is passive");
        await ExpectPersistentDataAsync(guest, "after the upgrade to v2");

        // v2 again: a no-op that fetches nothing and touches nothing.
        const string Fingerprint = $"cd {StateImages} && stat -c '%n %i %s %Y' active.img passive.img && sha256sum slots.json";
        var before = await guest.CheckAsync(Fingerprint, "the slot images and the slots file can be fingerprinted");
        await WaitForNetworkAsync(guest);
        var again = await UpgradeAsync(guest, guestRegistry, "v2", string.Empty);
        Assert.Equal("no-op", again.GetProperty("outcome").GetString());
        Assert.Equal(0, again.GetProperty("bytesTransferred").GetInt64());
        Assert.Equal(0, again.GetProperty("blobsTransferred").GetInt32());
        Assert.Equal(before, await guest.CheckAsync(Fingerprint, "the slot images and the slots file are unchanged by the no-op"));
        var afterNoOp = await StateAsync(guest);
        ExpectSlot(afterNoOp, SlotNames.Active, $"{guestRegistry}/{Repository}:v2", v2.Digest.Value, "the no-op leaves v2 active");
        ExpectSlot(afterNoOp, SlotNames.Passive, $"{guestRegistry}/{Repository}:v1", v1.Digest.Value, "the no-op leaves v1 passive");
        _output.WriteLine($"v2 -> v2: no-op, {again.GetProperty("bytesTransferred").GetInt64()} bytes fetched in {again.GetProperty("seconds").GetDouble():0.0} s");

        // v2 -> v3 with two tries (boots 3 and 4): v3's init fails each time, then the menu gives up on it and boots v2
        // from passive by itself (boot 5).
        var toV3 = await UpgradeAsync(guest, guestRegistry, "v3", "--boot-tries 2");
        Assert.Equal("upgraded", toV3.GetProperty("outcome").GetString());
        _output.WriteLine($"v2 -> v3 fetched {toV3.GetProperty("bytesTransferred").GetInt64()} bytes");
        var offset = guest.Machine.ConsoleLength;
        await guest.Machine.TypeAsync("reboot\n");
        await guest.Machine.LoginAsync("root", BasaltOsFixture.RootPassword, BootedDisk.BootTimeout * 2, offset, CancellationToken.None);
        await PrepareShellAsync(guest);
        var afterV3 = guest.Machine.Console[offset..];
        Assert.Equal(2, Regex.Matches(afterV3, "Attempted to kill init").Count);
        await guest.ExpectOutputAsync("cat /proc/cmdline", "cos-img/filename=/cOS/passive.img", "after v3 failed its try the node booted the passive slot");
        await guest.ExpectOutputAsync($"cat {MarkerPath}", "v2", "the passive slot the node fell back to is v2");
        await guest.CheckAsync("systemctl start basalt-boot-complete.service", "the fallback boot passes its health gate and is marked good");
        await guest.ExpectOutputAsync("basalt state", $"failed image {guestRegistry}/{Repository}:v3", "basalt state names the failed image");
        await guest.ExpectOutputAsync("basalt state", "active: no tries left", "basalt state says why the node left v3");
        await guest.CheckAsync("test -e /run/cos/upgrade_failure", "hooks get the upgrade_failure sentinel");
        await guest.ExpectOutputAsync("grep -a basalt_active_tries= /oem/grubenv", "basalt_active_tries=0", "the failed active stays out of the menu's way");
        var fallbackState = await StateAsync(guest);
        var fallback = fallbackState.GetProperty("lastFallback");
        Assert.Equal($"{guestRegistry}/{Repository}:v3", fallback.GetProperty("failedImageReference").GetString());
        Assert.Equal(v3.Digest.Value, fallback.GetProperty("failedDigest").GetString());
        ExpectSlot(fallbackState, SlotNames.Passive, $"{guestRegistry}/{Repository}:v2", v2.Digest.Value, "v2, which the node runs again, is the passive slot");
        await ExpectPersistentDataAsync(guest, "after the fallback from v3");

        _output.WriteLine($"last fallback: {fallback.GetProperty("reason").GetString()}");

        // The node lives on passive now, counted again with the upgrade's two tries: break passive (its init fails too)
        // and the menu must step on to recovery after those tries (boots 6 and 7), instead of booting the broken
        // passive for ever.
        await guest.ExpectOutputAsync("cat /oem/grubenv", "basalt_passive_tries=2", "the good boot of passive gave passive the upgrade's tries again");
        await BreakRunningPassiveAsync(guest);
        offset = guest.Machine.ConsoleLength;
        await guest.Machine.TypeAsync("echo b > /proc/sysrq-trigger\n");
        await guest.Machine.LoginAsync("root", BasaltOsFixture.RootPassword, BootedDisk.BootTimeout * 2, offset, CancellationToken.None);
        await PrepareShellAsync(guest);
        Assert.Equal(2, Regex.Matches(guest.Machine.Console[offset..], "Attempted to kill init").Count);
        await guest.CheckAsync("test -e /run/cos/recovery_mode", "with active and passive both broken the node reached recovery by itself");
        await guest.ExpectOutputAsync("basalt state", "passive: no tries left", "basalt state says why the node is in recovery");

        // Recovery runs without COS_PERSISTENT (as in Kairos), so the data is checked again after the reset.
        // From recovery: reset remakes active and passive from the recovery image and keeps persistent data.
        var reset = await guest.Machine.RunAsync("basalt reset --keep-persistent --unattended 2>&1", UpgradeTimeout);
        Assert.True(reset.ExitCode == 0, $"basalt reset from recovery exited {reset.ExitCode}:\n{reset.Output}\n--- console tail ---\n{guest.ConsoleTail()}");
        _output.WriteLine($"basalt reset: {reset.Output}");
        await guest.RebootAsync();
        await PrepareShellAsync(guest);
        await guest.CheckAsync("test -e /run/cos/active_mode", "after the reset the node boots its active system");
        await guest.ExpectOutputAsync("cat /proc/cmdline", "cos-img/filename=/cOS/active.img", "after the reset the menu boots the active slot again");
        await guest.CheckAsync($"test ! -e {MarkerPath}", "the reset active system is the recovery image (v1), without v2's marker");
        await guest.CheckAsync("systemctl start basalt-boot-complete.service", "the reset node passes its health gate");
        await guest.ExpectOutputAsync("basalt state", "reset", "basalt state lists the reset in the history");
        await ExpectPersistentDataAsync(guest, "after the reset");

        // The recovery image upgraded in place (v2, from the registry; its layers are on the node already), then chosen
        // once with basalt bootentry: boot 10 runs the new recovery.
        await WaitForNetworkAsync(guest);
        var recoveryUpgrade = await UpgradeAsync(guest, guestRegistry, "v2", "--recovery");
        Assert.Equal("upgraded", recoveryUpgrade.GetProperty("outcome").GetString());
        _output.WriteLine($"recovery -> v2: {recoveryUpgrade.GetProperty("imageBytes").GetInt64()} bytes of squashfs, {recoveryUpgrade.GetProperty("bytesTransferred").GetInt64()} bytes fetched");
        var afterRecoveryUpgrade = await StateAsync(guest);
        ExpectSlot(afterRecoveryUpgrade, SlotNames.Recovery, $"{guestRegistry}/{Repository}:v2", v2.Digest.Value, "after basalt upgrade --recovery the recovery slot is v2");
        await guest.CheckAsync($"basalt bootentry --select {Basalt.Boot.Grub.GrubMenu.RecoveryEntry}", "basalt bootentry chooses recovery for the next boot");
        await guest.RebootAsync();
        await PrepareShellAsync(guest);
        await guest.CheckAsync("test -e /run/cos/recovery_mode", "the boot chosen with basalt bootentry is recovery");
        await guest.ExpectOutputAsync($"cat {MarkerPath}", "v2", "the recovery system is the upgraded one (v2)");
        await guest.CheckAsync("! grep -aq '^next_entry=.' /oem/grubenv", "the choice was for one boot: GRUB cleared next_entry");
        await guest.PowerOffAsync();

        var boots = Regex.Matches(guest.Machine.Console, @"Linux version \d").Count;
        _output.WriteLine($"kernel boots in this scenario: {boots}");
        Assert.Equal(10, boots);
    }

    /// <summary>
    /// Points passive's /usr/sbin/init at /bin/false inside passive.img, which is the running root (mounted read-only,
    /// so nothing the running system does writes over the change); the caller resets the machine at once.
    /// </summary>
    private static async Task BreakRunningPassiveAsync(BootedDisk guest)
    {
        await guest.ExpectOutputAsync("cat /proc/cmdline", "cos-img/filename=/cOS/passive.img", "the node runs passive before passive is broken");
        await guest.CheckAsync(
            $"mount -o remount,rw /run/initramfs/cos-state && debugfs -w -R 'rm /usr/sbin/init' {StateImages}/passive.img && " +
            $"debugfs -w -R 'symlink /usr/sbin/init /usr/bin/false' {StateImages}/passive.img && sync",
            "passive's init is replaced by /bin/false");
        await guest.ExpectOutputAsync($"debugfs -R 'stat /usr/sbin/init' {StateImages}/passive.img 2>/dev/null", "Fast link dest: \"/usr/bin/false\"", "passive.img now carries the broken init");
    }

    /// <summary>
    /// A copy of the fixture's disk whose COS_PERSISTENT is grown and holds the node's blob store with v1's blobs, and
    /// whose active and passive slots are recorded as v1.
    /// </summary>
    private async Task<string> BuildNodeDiskAsync(string persistentContent, string v1Reference, PushedImage v1)
    {
        var disk = await _os.CopyDiskAsync(_temp.Path);
        var size = await PersistentPartition.GrowAndFillAsync(_os.Runner, disk, PersistentGrowth, persistentContent);
        _output.WriteLine($"COS_PERSISTENT is {ByteSize.Format(size)} and holds v1's blobs");

        var written = DateTimeOffset.UtcNow;
        var slots = SlotTable.From(
        [
            new SlotInfo(SlotNames.Active, v1Reference, v1.Digest.Value, v1.ConfigDocument.Created, written),
            new SlotInfo(SlotNames.Passive, v1Reference, v1.Digest.Value, v1.ConfigDocument.Created, written),
        ]);
        var state = OfflineExt4Partition.Open(_os.Runner, disk, KairosLayout.StateLabel);
        await state.WriteFileAsync("/cOS/slots.json", SlotStore.Serialize(slots));
        return disk;
    }

    private string MarkerLayer(string version)
    {
        var tree = _temp.Combine($"layer-{version}");
        var marker = Path.Combine(tree, MarkerPath.TrimStart('/'));
        Directory.CreateDirectory(Path.GetDirectoryName(marker)!);
        File.WriteAllText(marker, version + "\n");
        return tree;
    }

    /// <summary>/sbin/init (merged /usr: /usr/sbin/init) becomes /bin/false: the kernel panics at once and, with panic=5, reboots.</summary>
    private string BrokenInitLayer()
    {
        var tree = _temp.Combine("layer-v3");
        Directory.CreateDirectory(Path.Combine(tree, "usr", "sbin"));
        File.CreateSymbolicLink(Path.Combine(tree, "usr", "sbin", "init"), "../bin/false");
        return tree;
    }

    private static async Task PrepareShellAsync(BootedDisk guest) =>
        await guest.CheckAsync("dmesg -n 1", "kernel messages stay off the console the checks read");

    /// <summary>
    /// The guest has its DHCP lease (QEMU user networking: 10.0.2.15) before it talks to the registry. The loop runs in
    /// a subshell: an <c>exit</c> in the login shell itself would log the console out.
    /// </summary>
    private static async Task WaitForNetworkAsync(BootedDisk guest) =>
        await guest.CheckAsync("(for i in $(seq 90); do ip -4 addr show | grep -q 'inet 10\\.0\\.2\\.' && exit 0; sleep 2; done; ip addr; networkctl --no-pager; exit 1)", "the guest gets an address on the QEMU user network");

    private async Task<JsonElement> UpgradeAsync(BootedDisk guest, string guestRegistry, string tag, string flags)
    {
        var command = $"basalt --insecure-registry {guestRegistry} upgrade --source oci:{guestRegistry}/{Repository}:{tag} {flags} --output json >/usr/local/e2e-upgrade-{tag}.json 2>/usr/local/e2e-upgrade-{tag}.err";
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        var run = await guest.Machine.RunAsync(command, UpgradeTimeout);
        var errors = await guest.Machine.RunAsync($"tail -c 4000 /usr/local/e2e-upgrade-{tag}.err", BootedDisk.CommandTimeout);
        Assert.True(run.ExitCode == 0, $"basalt upgrade to {tag} exited {run.ExitCode}:\n{errors.Output}\n--- console tail ---\n{guest.ConsoleTail()}");
        var json = await guest.CheckAsync($"cat /usr/local/e2e-upgrade-{tag}.json", $"the upgrade to {tag} wrote its JSON result");
        var result = Parse(json, $"basalt upgrade to {tag}");
        var phases = result.TryGetProperty("phases", out var list)
            ? string.Join(", ", list.EnumerateArray().Select(p => $"{p.GetProperty("phase").GetString()} {p.GetProperty("seconds").GetDouble():0.0} s"))
            : "no phase times";
        _output.WriteLine($"basalt upgrade to {tag}: {stopwatch.Elapsed.TotalSeconds:0} s in the guest ({phases})");
        return result;
    }

    private static async Task<JsonElement> StateAsync(BootedDisk guest) =>
        Parse(await guest.CheckAsync("basalt state --output json", "basalt state answers in JSON"), "basalt state");

    private static JsonElement Parse(string text, string what)
    {
        var start = text.IndexOf('{', StringComparison.Ordinal);
        var end = text.LastIndexOf('}');
        Assert.True(start >= 0 && end > start, $"{what} printed no JSON document:\n{text}");
        try
        {
            using var document = JsonDocument.Parse(text[start..(end + 1)]);
            return document.RootElement.Clone();
        }
        catch (JsonException e)
        {
            throw new Xunit.Sdk.XunitException($"{what} printed JSON that does not parse ({e.Message}):\n{text}");
        }
    }

    private static void ExpectSlot(JsonElement state, string slot, string reference, string digest, string proves)
    {
        var entry = state.GetProperty("slots").EnumerateArray().FirstOrDefault(s => s.GetProperty("slot").GetString() == slot);
        Assert.True(entry.ValueKind == JsonValueKind.Object, $"{proves}: basalt state has no {slot} slot:\n{state}");
        Assert.True(
            entry.TryGetProperty("imageReference", out var image) && image.GetString() == reference &&
            entry.TryGetProperty("digest", out var recorded) && recorded.GetString() == digest,
            $"{proves}: expected {reference} ({digest}), basalt state says:\n{entry}");
    }

    private static async Task ExpectPersistentDataAsync(BootedDisk guest, string when)
    {
        await guest.ExpectOutputAsync("cat /home/e2e/data", "kept-home", $"a file under /home survives {when}");
        await guest.ExpectOutputAsync("cat /usr/local/e2e-data", "kept-local", $"a file under /usr/local survives {when}");
    }

    private async Task<T> Timed<T>(string step, Func<Task<T>> action)
    {
        var stopwatch = System.Diagnostics.Stopwatch.StartNew();
        var result = await action();
        _output.WriteLine($"{step}: {stopwatch.Elapsed.TotalSeconds:0} s");
        return result;
    }
}
