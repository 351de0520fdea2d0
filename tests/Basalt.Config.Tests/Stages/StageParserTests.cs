using System.Text.Json.Nodes;
using Basalt.Config.Stages;

namespace Basalt.Config.Tests.Stages;

public sealed class StageParserTests
{
    private static StagePlan Parse(string json) => StageParser.Parse(JsonNode.Parse(json), "oem/90.yaml");

    [Fact]
    public void Every_step_type_is_read_into_its_record()
    {
        var plan = Parse("""
        {"boot": [{
          "name": "everything", "if": "[ -e /x ]", "only_os": "debian", "only_arch": "amd64",
          "if_files": {"any": ["/a"], "all": ["/b"], "none": ["/c"]}, "after": [{"name": "first"}],
          "commands": ["echo hi"],
          "files": [{"path": "/etc/x", "content": "aGk=", "encoding": "b64", "permissions": 384, "owner": 1000, "group": 100}],
          "directories": [{"path": "/srv/d", "permissions": "0750", "owner": 5, "group": 6}],
          "users": {"kairos": {"passwd": "kairos", "groups": ["admin"], "shell": "/bin/bash", "uid": "1001", "lock_passwd": true, "ssh_authorized_keys": ["ssh-ed25519 AAA"]}},
          "authorized_keys": {"root": ["ssh-rsa BBB"]},
          "hostname": "node-1", "dns": {"nameservers": ["8.8.8.8"], "search": ["lan"], "options": ["rotate"], "path": "/etc/resolv.alt"},
          "sysctl": {"vm.swappiness": 10}, "modules": ["br_netfilter"],
          "systemctl": {"enable": ["a"], "disable": ["b"], "mask": ["c"], "start": ["d"], "overrides": [{"service": "e", "content": "[Service]"}]},
          "environment": {"A": "1"}, "environment_file": "/etc/env", "timesyncd": {"NTP": "pool.ntp.org"},
          "layout": {"device": {"label": "COS_OEM"}, "expand_partition": {"size": 0}, "add_partitions": [{"fsLabel": "DATA", "size": 100, "pLabel": "data", "filesystem": "ext4"}]},
          "downloads": [{"url": "https://example.org/x", "path": "/opt/x", "timeout": 5}]
        }]}
        """);
        var step = Assert.Single(plan.StepsOf("boot"));
        Assert.Equal("everything", step.Name);
        Assert.Equal(["first"], step.After);
        Assert.Equal(["/a"], step.IfFiles!.Any);
        Assert.Equal(FileEncoding.Base64, step.Files[0].Encoding);
        Assert.Equal((UnixFileMode)384, step.Files[0].Permissions);
        Assert.Equal((UnixFileMode)Convert.ToInt32("750", 8), step.Directories[0].Permissions);
        var user = Assert.Single(step.Users);
        Assert.Equal(("kairos", 1001, true), (user.Name, user.Uid!.Value, user.LockPassword));
        Assert.Equal("10", step.Sysctl[0].Value);
        Assert.Equal("/etc/resolv.alt", step.Dns!.Path);
        Assert.Equal("e", step.Systemctl!.Overrides[0].Service);
        Assert.Equal("COS_OEM", step.Layout!.Device.Label);
        Assert.Equal(0, step.Layout.Expand!.SizeMiB);
        Assert.Equal("ext4", step.Layout.AddPartitions[0].FileSystem);
        Assert.Equal(5, step.Downloads[0].TimeoutSeconds);
        Assert.Empty(plan.Warnings);
    }

    [Theory]
    [InlineData("""{"boot": {"commands": []}}""", "stage 'boot'", "list of steps")]
    [InlineData("""{"boot": [{"name": "s", "files": [{"content": "x"}]}]}""", "step 0 ('s'), field 'files[0].path'", "required")]
    [InlineData("""{"boot": [{}, {"files": [{"path": "/x", "encoding": "rot13"}]}]}""", "step 1, field 'files[0].encoding'", "rot13")]
    [InlineData("""{"boot": [{"files": [{"path": "/x", "permissions": "rwx"}]}]}""", "field 'files[0].permissions'", "octal")]
    [InlineData("""{"fs": [{"users": {"bad user": {}}}]}""", "stage 'fs' step 0, field 'users.bad user'", "valid user name")]
    [InlineData("""{"boot": [{"if_files": {"some": ["/x"]}}]}""", "field 'if_files'", "any, all or none")]
    [InlineData("""{"boot": [{"downloads": [{"url": "ftp://x/y", "path": "/y"}]}]}""", "field 'downloads[0].url'", "http")]
    [InlineData("""{"boot": [{"layout": {"device": {}}}]}""", "field 'layout.device'", "label or a path")]
    [InlineData("""{"boot": [{"sysctl": ["a=b"]}]}""", "field 'sysctl'", "map")]
    public void Malformed_steps_name_stage_step_and_field(string json, string where, string what)
    {
        var error = Assert.Throws<InvalidStageException>(() => Parse(json));
        Assert.Contains("oem/90.yaml", error.Message, StringComparison.Ordinal);
        Assert.Contains(where, error.Message, StringComparison.Ordinal);
        Assert.Contains(what, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Unknown_and_unsupported_keys_are_warnings_not_errors()
    {
        var plan = Parse("""{"boot": [{"packages": {"install": ["vim"]}, "colour": "blue"}]}""");
        Assert.Equal(2, plan.Warnings.Count);
        Assert.Contains(plan.Warnings, w => w.Contains("'packages' is not supported", StringComparison.Ordinal));
        Assert.Contains(plan.Warnings, w => w.Contains("unknown key 'colour'", StringComparison.Ordinal));
    }

    [Fact]
    public void Stage_names_expand_to_before_and_after_and_unknown_ones_are_refused()
    {
        Assert.Equal(["boot.before", "boot", "boot.after"], StageNames.Expand("boot"));
        Assert.Equal(["after-install-chroot"], StageNames.Expand("after-install-chroot"));
        Assert.Equal(["network.after"], StageNames.Expand("network.after"));
        Assert.Throws<UnknownStageException>(() => StageNames.Expand("bootx"));
    }
}

public sealed class CloudInitMappingTests
{
    [Fact]
    public void Cloud_init_keys_map_onto_stages_as_yip_maps_them()
    {
        var source = new StageSource("user-data", JsonNode.Parse("""
        {
          "hostname": "edge-1",
          "ssh_authorized_keys": ["ssh-ed25519 GLOBAL", "github:someone"],
          "users": [{"name": "kairos", "passwd": "kairos", "groups": ["admin"], "ssh_authorized_keys": ["ssh-ed25519 OWN"]}],
          "write_files": [{"path": "/etc/motd", "content": "hi", "permissions": "0600", "owner": "kairos:kairos"}],
          "runcmd": ["echo one"],
          "stages": {"boot": [{"name": "mine", "commands": ["echo two"]}]}
        }
        """)!.AsObject());
        var plan = source.ToPlan();
        var boot = plan.StepsOf("boot");
        Assert.Equal(2, boot.Count);
        Assert.Equal(["echo one"], boot[0].Commands);
        Assert.Equal("kairos", Assert.Single(boot[0].Users).Name);
        Assert.Equal("kairos:kairos", boot[0].Files[0].OwnerName);
        Assert.Equal((UnixFileMode)Convert.ToInt32("600", 8), boot[0].Files[0].Permissions);
        var keys = Assert.Single(boot[0].AuthorizedKeys);
        Assert.Equal("kairos", keys.Key);
        Assert.Equal(["ssh-ed25519 OWN", "ssh-ed25519 GLOBAL"], keys.Value);
        Assert.Equal("mine", boot[1].Name);
        Assert.Equal(1, boot[1].Index);
        Assert.Equal("edge-1", Assert.Single(plan.StepsOf("initramfs")).Hostname);
        var network = Assert.Single(plan.StepsOf("network"));
        Assert.Equal(["github:someone"], Assert.Single(network.AuthorizedKeys).Value);
    }

    [Fact]
    public void The_cloud_init_default_user_marker_is_ignored()
    {
        var plan = new StageSource("x", JsonNode.Parse("""{"users": ["default", {"name": "ops"}]}""")!.AsObject()).ToPlan();
        Assert.Equal("ops", Assert.Single(Assert.Single(plan.StepsOf("boot")).Users).Name);
    }

    [Fact]
    public void Global_keys_without_users_go_to_root()
    {
        var plan = new StageSource("x", JsonNode.Parse("""{"ssh_authorized_keys": ["ssh-rsa K"]}""")!.AsObject()).ToPlan();
        var keys = Assert.Single(Assert.Single(plan.StepsOf("boot")).AuthorizedKeys);
        Assert.Equal("root", keys.Key);
    }

    [Fact]
    public void A_config_without_cloud_init_keys_adds_no_steps()
    {
        Assert.Null(CloudInitMapping.ToStages(new JsonObject { ["install"] = new JsonObject() }));
    }
}
