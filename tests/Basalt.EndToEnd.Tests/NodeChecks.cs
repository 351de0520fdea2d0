using System.Text;
using Basalt.Build.Artifacts;
using Basalt.Disk.Layout;
using Basalt.Platform;

namespace Basalt.EndToEnd.Tests;

/// <summary>
/// What every booted Basalt node must show, checked from inside the guest: the root is the slot's image, read-only;
/// a node cloud-config on COS_OEM (one step type per line it checks, plus a broken file) is applied at each boot.
/// </summary>
public static class NodeChecks
{
    /// <summary>Puts <see cref="CloudConfig"/> and an invalid file on the COS_OEM partition of <paramref name="disk"/>.</summary>
    public static async Task WriteCloudConfigAsync(IToolRunner runner, string disk)
    {
        var oem = OfflineExt4Partition.Open(runner, disk, KairosLayout.OemLabel);
        await oem.WriteFileAsync("/91_e2e.yaml", Encoding.UTF8.GetBytes(CloudConfig));
        await oem.WriteFileAsync("/92_broken.yaml", Encoding.UTF8.GetBytes("#cloud-config\nstages: [unclosed\n"));
    }

    /// <summary>A node's cloud-config on COS_OEM, in Kairos's format, touching one step type per line it checks.</summary>
    public const string CloudConfig = """
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

    /// <summary>What <see cref="CloudConfig"/> asks for is in place, the boot stage ran once per boot, the broken file was reported.</summary>
    public static async Task ExpectCloudConfigAppliedAsync(BootedDisk guest, int bootStageRuns)
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
    public static async Task ExpectRootImageAsync(BootedDisk guest, string image, string label, string mode)
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
