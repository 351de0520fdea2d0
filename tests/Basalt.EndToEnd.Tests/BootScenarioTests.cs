using System.Text;
using Basalt.Boot.Grub;
using Basalt.Build.Artifacts;
using Basalt.Disk.Layout;
using Basalt.Testing;
using Xunit.Abstractions;

namespace Basalt.EndToEnd.Tests;

/// <summary>
/// Boots disks built by <c>basalt build disk</c> from the default base under QEMU and proves the immutable layout
/// from inside the guest. Five boots in all: active (and its reboot), fallback, recovery, and the automatic fallback
/// when active.img is gone.
/// </summary>
[Collection(BasaltOsCollection.Name)]
[Trait(Tiers.Key, Tiers.EndToEnd)]
public sealed class BootScenarioTests : IDisposable
{
    private readonly BasaltOsFixture _os;
    private readonly ITestOutputHelper _output;
    private readonly TempDirectory _temp = new("e2e-boot");

    public BootScenarioTests(BasaltOsFixture os, ITestOutputHelper output)
    {
        E2eRequirements.Check();
        _os = os;
        _output = output;
        os.WriteLogTo(_output);
    }

    public void Dispose() => _temp.Dispose();

    [Fact]
    public async Task Active_boots_read_only_from_active_img_etc_is_ephemeral_and_persistent_paths_survive_a_reboot()
    {
        var disk = await _os.CopyDiskAsync(_temp.Path);
        var oem = OfflineExt4Partition.Open(_os.Runner, disk, KairosLayout.OemLabel);
        await oem.WriteFileAsync("/91_e2e.yaml", Encoding.UTF8.GetBytes(NodeCloudConfig));
        await oem.WriteFileAsync("/92_broken.yaml", Encoding.UTF8.GetBytes("#cloud-config\nstages: [unclosed\n"));
        await using var guest = await BootedDisk.BootAsync(disk, _temp.Combine("vm"), _os.Runner);

        await ExpectRootImageAsync(guest, "/cOS/active.img", KairosLayout.ActiveImageLabel, "active");
        await ExpectCloudConfigAppliedAsync(guest, bootStageRuns: 1);
        await guest.CheckAsync("findmnt -n /oem", "COS_OEM is mounted at /oem");
        await guest.ExpectOutputAsync("findmnt -n -o SOURCE /usr/local && blkid -o value -s LABEL $(findmnt -n -o SOURCE /usr/local)", "COS_PERSISTENT", "COS_PERSISTENT is mounted at /usr/local");
        await guest.CheckAsync("echo e2e > /etc/basalt-e2e && test -s /etc/basalt-e2e", "/etc is writable");
        await guest.CheckAsync("mkdir -p /home/e2e && echo kept > /home/e2e/file", "/home is writable");
        await guest.CheckAsync("echo kept > /usr/local/e2e-file && sync", "/usr/local is writable");

        await guest.RebootAsync();

        await ExpectRootImageAsync(guest, "/cOS/active.img", KairosLayout.ActiveImageLabel, "active");
        await ExpectCloudConfigAppliedAsync(guest, bootStageRuns: 2);
        await guest.ExpectOutputAsync("systemctl is-active basalt-e2e.service; cat /usr/local/e2e-unit.log", "ran", "the unit the cloud-config enabled ran at the next boot");
        await guest.CheckAsync("test ! -e /etc/basalt-e2e", "a file written to /etc is gone after a reboot");
        await guest.ExpectOutputAsync("cat /home/e2e/file", "kept", "a file under /home survives a reboot");
        await guest.ExpectOutputAsync("cat /usr/local/e2e-file", "kept", "a file under /usr/local survives a reboot");
    }

    [Fact]
    public async Task Selecting_fallback_boots_passive_img_once_and_selecting_recovery_boots_the_squashfs()
    {
        var disk = await _os.CopyDiskAsync(_temp.Path);
        var selector = new BootEntrySelector(_os.Runner);

        await selector.SelectNextAsync(disk, GrubMenu.PassiveEntry);
        await using (var guest = await BootedDisk.BootAsync(disk, _temp.Combine("vm-fallback"), _os.Runner))
        {
            await ExpectRootImageAsync(guest, "/cOS/passive.img", KairosLayout.PassiveImageLabel, "passive");
            await guest.CheckAsync("test ! -e /run/cos/active_mode", "a passive boot is not flagged active");
            await guest.PowerOffAsync();
        }

        var afterFallback = await selector.ReadAsync(disk);
        Assert.True(string.IsNullOrEmpty(afterFallback.Get(GrubEnvironmentKeys.NextEntry)), "GRUB clears next_entry once it used it (one shot)");

        await selector.SelectNextAsync(disk, GrubMenu.RecoveryEntry);
        await using (var guest = await BootedDisk.BootAsync(disk, _temp.Combine("vm-recovery"), _os.Runner))
        {
            await guest.CheckAsync("test -e /run/cos/recovery_mode", "the recovery boot writes /run/cos/recovery_mode");
            await guest.ExpectOutputAsync("findmnt -n -o FSTYPE /", "squashfs", "recovery runs from the squashfs");
            await guest.ExpectOutputAsync("cat /proc/cmdline", "/cOS/recovery.squashfs", "GRUB booted the recovery entry");
            await guest.PowerOffAsync();
        }
    }

    [Fact]
    public async Task Without_active_img_grub_falls_back_to_passive_on_its_own()
    {
        var disk = await _os.CopyDiskAsync(_temp.Path);
        var state = OfflineExt4Partition.Open(_os.Runner, disk, KairosLayout.StateLabel);
        await state.RemoveAsync("/cOS/active.img");
        Assert.False(await state.ExistsAsync("/cOS/active.img"));

        await using var guest = await BootedDisk.BootAsync(disk, _temp.Combine("vm"), _os.Runner);

        await ExpectRootImageAsync(guest, "/cOS/passive.img", KairosLayout.PassiveImageLabel, "passive");
        Assert.Contains("/cOS/active.img not found", guest.Machine.Console, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_active_image_whose_init_fails_uses_up_its_tries_then_the_node_boots_passive_and_says_why()
    {
        var disk = await _os.CopyDiskAsync(_temp.Path);
        var broken = await BrokenImage.BuildAsync(_os.RootDirectory, _temp.Combine("broken"), _os.Runner);
        var state = OfflineExt4Partition.Open(_os.Runner, disk, KairosLayout.StateLabel);
        await state.WriteFileAsync("/cOS/active.img", await File.ReadAllBytesAsync(broken));
        await new BootEntrySelector(_os.Runner).EditAsync(disk, environment => BootAssessment.Arm(environment, tries: 1));

        await using var guest = await BootedDisk.BootAsync(disk, _temp.Combine("vm"), _os.Runner, failFast: false);

        Assert.Contains("Attempted to kill init", guest.Machine.Console, StringComparison.Ordinal);
        await ExpectRootImageAsync(guest, "/cOS/passive.img", KairosLayout.PassiveImageLabel, "passive");
        await guest.CheckAsync("systemctl start basalt-boot-complete.service", "the passive boot passes its health gate and is marked good");
        await guest.ExpectOutputAsync("basalt state", "active: no tries left", "basalt state names the failed slot and why it was left");
        await guest.ExpectOutputAsync("basalt state --output json", "\"fallback\"", "the fallback is in the node's history");
        await guest.CheckAsync("test -e /run/cos/upgrade_failure", "hooks get the upgrade_failure sentinel");
        await guest.ExpectOutputAsync("grep -a basalt_active_tries= /oem/grubenv", "basalt_active_tries=0", "the failed active stays out of the menu's way");
    }

    /// <summary>A node's cloud-config on COS_OEM, in Kairos's format, touching one step type per line it checks.</summary>
    private const string NodeCloudConfig = """
        #cloud-config
        hostname: basalt-e2e
        users:
          - name: e2e
            passwd: e2e-password
            shell: /bin/bash
            ssh_authorized_keys:
              - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBasaltEndToEndKeyBasaltEndToEndKey0 e2e@basalt
        stages:
          boot:
            - name: e2e settings
              sysctl:
                vm.swappiness: "17"
              files:
                - path: /etc/basalt-e2e.conf
                  permissions: 0640
                  content: "from cloud-config"
                - path: /etc/systemd/system/basalt-e2e.service
                  permissions: 0644
                  content: |
                    [Unit]
                    Description=Basalt end-to-end unit enabled by cloud-config
                    [Service]
                    Type=oneshot
                    ExecStart=/bin/sh -c 'echo ran >> /usr/local/e2e-unit.log'
                    [Install]
                    WantedBy=multi-user.target
            - name: e2e enable
              systemctl:
                enable: [basalt-e2e.service]
            - name: e2e boot count
              commands:
                - echo boot >> /usr/local/e2e-boot-stage.log
        """;

    /// <summary>What <see cref="NodeCloudConfig"/> asks for is in place, the boot stage ran once per boot, the broken file was reported.</summary>
    private static async Task ExpectCloudConfigAppliedAsync(BootedDisk guest, int bootStageRuns)
    {
        await guest.ExpectOutputAsync("hostname", "basalt-e2e", "hostname from cloud-config");
        await guest.ExpectOutputAsync("getent passwd e2e | cut -d: -f7", "/bin/bash", "user e2e created with its shell");
        await guest.CheckAsync("getent shadow e2e | cut -d: -f2 | grep -q '^\\$6\\$'", "user e2e has a hashed password");
        await guest.ExpectOutputAsync("cat /home/e2e/.ssh/authorized_keys", "e2e@basalt", "user e2e has its SSH key");
        await guest.ExpectOutputAsync("cat /proc/sys/vm/swappiness", "17", "sysctl from cloud-config");
        await guest.ExpectOutputAsync("stat -c %a /etc/basalt-e2e.conf", "640", "file written with its mode");
        await guest.ExpectOutputAsync("systemctl is-enabled basalt-e2e.service", "enabled", "unit enabled by cloud-config");
        await guest.ExpectOutputAsync("wc -l < /usr/local/e2e-boot-stage.log", bootStageRuns.ToString(System.Globalization.CultureInfo.InvariantCulture), "the boot stage runs once per boot");
        await guest.CheckAsync("journalctl -b --no-pager | grep -q 92_broken.yaml", "the invalid /oem file is reported in the journal");
        await guest.CheckAsync("systemctl is-system-running --wait | grep -Eq 'running|degraded'", "the boot went on despite the invalid file");
    }

    /// <summary>Root is the loop-mounted image file, read-only, with the mode's sentinel and the right kernel arguments.</summary>
    private static async Task ExpectRootImageAsync(BootedDisk guest, string image, string label, string mode)
    {
        await guest.ExpectOutputAsync("findmnt -n -o SOURCE /", "/dev/loop", $"root is a loop device ({image})");
        await guest.ExpectOutputAsync("cat /sys/block/$(basename $(findmnt -n -o SOURCE /))/loop/backing_file", image, $"root's loop device is backed by {image}");
        await guest.ExpectOutputAsync("blkid -o value -s LABEL $(findmnt -n -o SOURCE /)", label, $"root carries the filesystem label {label}");
        await guest.CheckAsync("test \"$(findmnt -n -o OPTIONS / | cut -d, -f1)\" = ro", "root is mounted read-only");
        await guest.CheckAsync("! touch /basalt-e2e-rootfs-write 2>/dev/null", "root refuses writes");
        await guest.CheckAsync($"test -e /run/cos/{mode}_mode", $"the mounter writes /run/cos/{mode}_mode");
        await guest.ExpectOutputAsync("cat /proc/cmdline", $"cos-img/filename={image}", "GRUB passed the image to the kernel");
    }
}
