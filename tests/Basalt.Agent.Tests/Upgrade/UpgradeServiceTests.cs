using System.Text.Json.Nodes;
using Basalt.Agent.History;
using Basalt.Agent.Install;
using Basalt.Agent.Journal;
using Basalt.Agent.Upgrade;
using Basalt.Boot.Grub;
using Basalt.Config.Stages;
using Basalt.Disk;
using Basalt.Oci.Images;
using Basalt.Oci.Model;
using Basalt.Oci.Registry;
using Basalt.Oci.Store;
using Basalt.Platform;

namespace Basalt.Agent.Tests.Upgrade;

/// <summary>The whole upgrade on a fake node: a dir: source, fake ext4 images, power cuts at every step.</summary>
public sealed class UpgradeServiceTests
{
    private static UpgradeService Service(FakeNode node, RegistryClient registry, SwapHooks? hooks = null) => node.Upgrades(registry, StagedTree, hooks);

    /// <summary>These tests run the staged-tree upgrade (unpack, fake mkfs.ext4); the streamed one has its own tests.</summary>
    private static readonly UpgradeServiceOptions StagedTree = new() { StreamLayersIntoImage = false };

    private static string MakeTree(FakeNode node, string version) => node.MakeSourceTree(version);

    [Fact]
    public async Task Upgrade_makes_the_new_image_active_the_old_one_passive_arms_counting_and_records_slots_and_history()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var source = MakeTree(node, "T");

        var result = await Service(node, registry).UpgradeAsync(new UpgradeRequest(source, BootTries: 4));

        Assert.True(result.Changed);
        node.AssertBootable(["T"], ["A"]);
        Assert.False(File.Exists(node.Paths.TransitionImage));
        Assert.False(File.Exists(node.Paths.Journal));
        Assert.False(Directory.Exists(Path.Combine(node.Paths.AgentDirectory, "staging")));
        var grub = node.GrubVariables();
        Assert.Equal("4", grub[GrubEnvironmentKeys.ActiveTriesLeft]);
        Assert.Equal("4", grub[GrubEnvironmentKeys.PassiveTriesLeft]);
        Assert.Equal("# menu of T\n", await File.ReadAllTextAsync(Path.Combine(node.Paths.StateMount, "grub2", "grub.cfg")));
        Assert.Equal(result.Plan.Digest, node.Slots.ReadActive()?.Digest);
        var record = Assert.Single(await node.History.ReadAsync());
        Assert.Equal((LifecycleOperations.Upgrade, LifecycleOperations.Succeeded, result.Plan.Digest), (record.Operation, record.Outcome, record.ToDigest));
    }

    [Fact]
    public async Task Lifecycle_stages_run_around_the_upgrade_and_the_chroot_stage_changes_the_new_image()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var source = MakeTree(node, "T");
        var system = node.Combine("system");
        Directory.CreateDirectory(system);
        var paths = node.Paths with { SystemRoot = system };
        var stages = new LifecycleStages(
            new StageRunner(node.Tools),
            [StageSource.FromStages("/oem/lifecycle.yaml", JsonNode.Parse("""
                {"before-upgrade": [{"files": [{"path": "/before-upgrade", "content": "ran"}]}],
                 "after-upgrade-chroot": [{"files": [{"path": "/etc/version", "content": "T+chroot"}]}],
                 "after-upgrade": [{"files": [{"path": "/after-upgrade", "content": "ran"}]}]}
                """))]);
        var service = new UpgradeService(paths, new ImageService(new BlobStore(paths.BlobStore), registry), node.Tools, node.Slots, node.History, node.Probe, stages: stages);

        await service.UpgradeAsync(new UpgradeRequest(source));

        Assert.Equal("T+chroot", FakeNode.ReadPayload(node.Paths.ActiveImage));
        Assert.Equal("ran", await File.ReadAllTextAsync(Path.Combine(system, "before-upgrade")));
        Assert.Equal("ran", await File.ReadAllTextAsync(Path.Combine(system, "after-upgrade")));
        Assert.Equal("T", await File.ReadAllTextAsync(Path.Combine(source["dir:".Length..], "etc", "version")));

        File.Delete(Path.Combine(system, "before-upgrade"));
        await service.UpgradeAsync(new UpgradeRequest(source));
        Assert.False(File.Exists(Path.Combine(system, "before-upgrade")), "a no-op upgrade runs no lifecycle stage");
    }

    [Fact]
    public async Task Second_upgrade_to_the_same_digest_is_a_no_op_that_changes_no_image()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var source = MakeTree(node, "T");
        var service = Service(node, registry);
        await service.UpgradeAsync(new UpgradeRequest(source));
        var active = await File.ReadAllBytesAsync(node.Paths.ActiveImage);
        var passive = await File.ReadAllBytesAsync(node.Paths.PassiveImage);
        var calls = node.Tools.Calls.Count;

        var second = await service.UpgradeAsync(new UpgradeRequest(source));

        Assert.True(second.Plan.NoOp);
        Assert.False(second.Changed);
        Assert.Equal(0, second.BytesTransferred);
        Assert.Equal(calls, node.Tools.Calls.Count);
        Assert.Equal(active, await File.ReadAllBytesAsync(node.Paths.ActiveImage));
        Assert.Equal(passive, await File.ReadAllBytesAsync(node.Paths.PassiveImage));
        Assert.Equal(LifecycleOperations.NoOp, (await node.History.ReadAsync())[^1].Outcome);
    }

    [Fact]
    public async Task After_an_upgrade_the_blob_store_keeps_only_the_images_the_slots_hold()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var service = Service(node, registry);
        var store = new BlobStore(node.Paths.BlobStore);
        var first = await service.UpgradeAsync(new UpgradeRequest(MakeTree(node, "T1")));
        var second = await service.UpgradeAsync(new UpgradeRequest(MakeTree(node, "T2")));
        Assert.Equal(0, second.BlobsRemoved); // T1 is passive now: still held
        Assert.True(store.Contains(Digest.Parse(first.Plan.Digest)));
        node.AgeBlobStore();

        var third = await service.UpgradeAsync(new UpgradeRequest(MakeTree(node, "T3")));

        // T3 active, T2 passive: T1, retired, is gone with its name; what T2 and T3 need stays.
        node.AssertBootable(["T3"], ["T2"]);
        var retired = first.Plan.Layers.Select(l => l.Digest).Append(first.Plan.Digest).ToList();
        Assert.All(retired, digest => Assert.False(store.Contains(Digest.Parse(digest)), $"{digest} of the retired T1 is still stored"));
        var held = second.Plan.Layers.Concat(third.Plan.Layers).Select(l => l.Digest).Append(second.Plan.Digest).Append(third.Plan.Digest);
        Assert.All(held, digest => Assert.True(store.Contains(Digest.Parse(digest)), $"{digest} of a slot's image was removed"));
        Assert.Equal(3, third.BlobsRemoved); // T1's manifest, config and layer
        Assert.True(third.BlobBytesFreed > 0);
        Assert.Equal(2, store.ListReferences().Count);
    }

    [Fact]
    public async Task Unresolvable_source_is_refused_before_anything_is_written()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var before = await File.ReadAllBytesAsync(node.Paths.ActiveImage);

        var error = await Assert.ThrowsAsync<UpgradeSourceUnavailableException>(() =>
            Service(node, registry).UpgradeAsync(new UpgradeRequest("dir:" + node.Combine("no-such-tree"))));

        Assert.Equal("upgrade-source-unavailable", error.Kind);
        Assert.Equal(before, await File.ReadAllBytesAsync(node.Paths.ActiveImage));
        Assert.False(File.Exists(node.Paths.Journal));
        Assert.Empty(node.Tools.Calls);
    }

    [Fact]
    public async Task Malformed_source_is_refused_as_unresolvable()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        await Assert.ThrowsAsync<UpgradeSourceUnavailableException>(() => Service(node, registry).PlanAsync(new UpgradeRequest("bogus:::")));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(10)]
    public async Task Boot_tries_outside_what_grub_counts_are_refused(int tries)
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        await Assert.ThrowsAsync<InvalidBootTriesException>(() => Service(node, registry).PlanAsync(new UpgradeRequest(MakeTree(node, "T"), tries)));
    }

    [Fact]
    public async Task Too_little_memory_refuses_the_upgrade_and_leaves_the_node_as_it_was()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        node.Probe.MemoryBytes = 16L << 20;

        await Assert.ThrowsAsync<NotEnoughMemoryException>(() => Service(node, registry).UpgradeAsync(new UpgradeRequest(MakeTree(node, "T"))));

        node.AssertBootable(["A"], ["P"]);
        Assert.False(File.Exists(node.Paths.Journal));
    }

    [Fact]
    public async Task Too_little_space_on_state_for_the_measured_transition_is_refused_and_the_staging_removed()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        node.Probe.Available[node.Paths.StateMount] = 1L << 20;

        var error = await Assert.ThrowsAsync<NotEnoughSpaceException>(() => Service(node, registry).UpgradeAsync(new UpgradeRequest(MakeTree(node, "T"))));

        Assert.Equal("COS_STATE", error.Partition);
        node.AssertBootable(["A"], ["P"]);
        Assert.False(File.Exists(node.Paths.TransitionImage));
        Assert.False(File.Exists(node.Paths.Journal));
        Assert.False(Directory.Exists(Path.Combine(node.Paths.AgentDirectory, "staging")));
        Assert.DoesNotContain(node.Tools.Calls, c => c.StartsWith("mkfs.ext4", StringComparison.Ordinal));
        Assert.Equal(LifecycleOperations.Failed, Assert.Single(await node.History.ReadAsync()).Outcome);
    }

    [Fact]
    public async Task Too_little_space_on_persistent_is_refused_before_fetching()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        node.Probe.Available[node.Paths.PersistentMount] = 1L << 20;

        var error = await Assert.ThrowsAsync<NotEnoughSpaceException>(() => Service(node, registry).UpgradeAsync(new UpgradeRequest(MakeTree(node, "T"))));

        Assert.Equal("COS_PERSISTENT", error.Partition);
        Assert.False(File.Exists(node.Paths.Journal));
    }

    [Fact]
    public async Task A_missing_active_image_is_refused()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        File.Delete(node.Paths.ActiveImage);

        await Assert.ThrowsAsync<SlotImageInvalidException>(() => Service(node, registry).UpgradeAsync(new UpgradeRequest(MakeTree(node, "T"))));
    }

    public static TheoryData<SwapStep, bool> EveryCut()
    {
        var data = new TheoryData<SwapStep, bool>();
        foreach (var step in Enum.GetValues<SwapStep>())
        {
            data.Add(step, false);
            data.Add(step, true);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(EveryCut))]
    public async Task Power_cut_at_any_step_leaves_a_bootable_node_and_the_next_run_completes_or_rolls_back(SwapStep step, bool afterStep)
        // Up to the journal entry that names the complete transition image (written on entering Arming) the upgrade is
        // rolled back; from there on it is completed.
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var source = MakeTree(node, "T");
        var hooks = afterStep ? PowerCuts.After(step) : PowerCuts.Before(step);

        await Assert.ThrowsAsync<PowerCutException>(() => Service(node, registry, hooks).UpgradeAsync(new UpgradeRequest(source)));
        node.AssertBootable(["A", "T"], ["P", "A"]);
        Assert.True(File.Exists(node.Paths.Journal));

        var recovery = await Service(node, registry).RecoverAsync();

        Assert.False(File.Exists(node.Paths.Journal));
        Assert.False(File.Exists(node.Paths.TransitionImage));
        Assert.False(Directory.Exists(Path.Combine(node.Paths.AgentDirectory, "staging")));
        var history = await node.History.ReadAsync();
        var record = Assert.Single(history);
        if (step > SwapStep.Preparing)
        {
            Assert.Equal(RecoveryOutcome.Completed, recovery.Outcome);
            node.AssertBootable(["T"], ["A"]);
            Assert.Equal(LifecycleOperations.Succeeded, record.Outcome);
            Assert.Equal("3", node.GrubVariables()[GrubEnvironmentKeys.ActiveTriesLeft]);
            Assert.Equal(record.ToDigest, node.Slots.ReadActive()?.Digest);
        }
        else
        {
            Assert.Equal(RecoveryOutcome.RolledBack, recovery.Outcome);
            node.AssertBootable(["A"], ["P"]);
            Assert.Equal(LifecycleOperations.RolledBack, record.Outcome);
            Assert.False(node.GrubVariables().ContainsKey(GrubEnvironmentKeys.ActiveTriesLeft));
        }

        // and the next upgrade runs to the end (or is a no-op when recovery already completed it)
        var next = await Service(node, registry).UpgradeAsync(new UpgradeRequest(source));
        Assert.Equal(recovery.Outcome == RecoveryOutcome.Completed, next.Plan.NoOp);
        node.AssertBootable(["T"], ["A"]);
    }

    [Theory]
    [MemberData(nameof(EveryCut))]
    public async Task At_boot_a_cut_before_the_exchange_is_rolled_back_and_one_after_it_completed(SwapStep step, bool afterStep)
        // At boot the running system is what the menu chose from the images as they were: the images not yet exchanged
        // means the old active runs, and it must stay the active one.
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var source = MakeTree(node, "T");
        var hooks = afterStep ? PowerCuts.After(step) : PowerCuts.Before(step);
        await Assert.ThrowsAsync<PowerCutException>(() => Service(node, registry, hooks).UpgradeAsync(new UpgradeRequest(source)));
        var exchanged = step > SwapStep.Exchanging || (step == SwapStep.Exchanging && afterStep);

        var recovery = await new SwapExecutor(node.Paths, new SlotImageFiles(node.Tools), node.Slots, node.History).RecoverAsync(RecoveryMode.Boot);

        Assert.False(File.Exists(node.Paths.Journal));
        Assert.False(File.Exists(node.Paths.TransitionImage));
        Assert.False(Directory.Exists(Path.Combine(node.Paths.AgentDirectory, "staging")));
        var record = Assert.Single(await node.History.ReadAsync());
        if (exchanged)
        {
            Assert.Equal(RecoveryOutcome.Completed, recovery.Outcome);
            node.AssertBootable(["T"], ["A"]);
            Assert.Equal(LifecycleOperations.Succeeded, record.Outcome);
            Assert.Equal(record.ToDigest, node.Slots.ReadActive()?.Digest);
        }
        else
        {
            Assert.Equal(RecoveryOutcome.RolledBack, recovery.Outcome);
            node.AssertBootable(["A"], ["P"]);
            Assert.Equal(LifecycleOperations.RolledBack, record.Outcome);
            Assert.False(node.GrubVariables().ContainsKey(GrubEnvironmentKeys.ActiveTriesLeft));
        }

        var next = await Service(node, registry).UpgradeAsync(new UpgradeRequest(source));
        Assert.Equal(exchanged, next.Plan.NoOp);
        node.AssertBootable(["T"], ["A"]);
    }

    public static TheoryData<SwapStep> StepsRecoveryCarriesOut() => new(Enum.GetValues<SwapStep>().Where(step => step >= SwapStep.Arming));

    [Theory]
    [MemberData(nameof(StepsRecoveryCarriesOut))]
    public async Task A_cut_while_recovery_completes_an_upgrade_is_recovered_at_the_next_boot(SwapStep step)
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var source = MakeTree(node, "T");
        await Assert.ThrowsAsync<PowerCutException>(() => Service(node, registry, PowerCuts.Before(SwapStep.Arming)).UpgradeAsync(new UpgradeRequest(source)));
        var cutAgain = new SwapExecutor(node.Paths, new SlotImageFiles(node.Tools), node.Slots, node.History, PowerCuts.After(step));

        await Assert.ThrowsAsync<PowerCutException>(() => cutAgain.RecoverAsync());

        node.AssertBootable(["A", "T"], ["P", "A"]);
        Assert.True(File.Exists(node.Paths.Journal));
        // The boot after the second cut: once exchanged, the new image is what the menu booted and the upgrade is
        // completed; cut before that, the old active booted and stays active.
        var recovery = await new SwapExecutor(node.Paths, new SlotImageFiles(node.Tools), node.Slots, node.History).RecoverAsync(RecoveryMode.Boot);

        var exchanged = step >= SwapStep.Exchanging;
        Assert.Equal(exchanged ? RecoveryOutcome.Completed : RecoveryOutcome.RolledBack, recovery.Outcome);
        Assert.False(File.Exists(node.Paths.Journal));
        node.AssertBootable(exchanged ? ["T"] : ["A"], exchanged ? ["A"] : ["P"]);
        var record = Assert.Single(await node.History.ReadAsync());
        Assert.Equal(exchanged ? LifecycleOperations.Succeeded : LifecycleOperations.RolledBack, record.Outcome);
        var next = await Service(node, registry).UpgradeAsync(new UpgradeRequest(source));
        Assert.Equal(exchanged, next.Plan.NoOp);
        node.AssertBootable(["T"], ["A"]);
    }

    [Fact]
    public async Task A_cut_while_the_transition_image_is_written_leaves_the_old_images_and_is_rolled_back()
    {
        using var node = new FakeNode();
        using var registry = new RegistryClient();
        var source = MakeTree(node, "T");
        var writing = new SlowImageTools(node.Tools);
        var hooks = PowerCutHooks.For(
            PowerCutSetting.Parse("image-write:512K"),
            at => throw new PowerCutException($"power cut at {at.Text}"),
            e => e is PowerCutException);
        var service = new UpgradeService(node.Paths, new ImageService(new BlobStore(node.Paths.BlobStore), registry), writing, node.Slots, node.History, node.Probe, StagedTree, hooks: hooks);

        var cut = await Assert.ThrowsAsync<PowerCutException>(() => service.UpgradeAsync(new UpgradeRequest(source)));

        Assert.Contains("image-write:524288", cut.Message, StringComparison.Ordinal);
        Assert.True(writing.Started, "the cut fell while mkfs.ext4 was writing");
        Assert.Equal(SwapStep.Preparing, new SwapJournalStore(node.Paths.Journal).Read()?.Step);
        node.AssertBootable(["A"], ["P"]);
        Assert.False(File.Exists(node.Paths.TransitionImage));

        var recovery = await Service(node, registry).RecoverAsync();

        Assert.Equal((RecoveryOutcome.RolledBack, SwapStep.Preparing), (recovery.Outcome, recovery.InterruptedAt));
        Assert.Empty(Directory.EnumerateFiles(Path.GetDirectoryName(node.Paths.TransitionImage)!, ".transition.img.tmp-*"));
        var next = await Service(node, registry).UpgradeAsync(new UpgradeRequest(source));
        Assert.True(next.Changed);
        node.AssertBootable(["T"], ["A"]);
    }

    /// <summary>mkfs.ext4 that writes its first MiB and then takes its time, as a real build of a large tree does.</summary>
    private sealed class SlowImageTools(FakeTools inner) : IToolRunner
    {
        public bool Started { get; private set; }

        public string? Locate(string tool) => inner.Locate(tool);

        public async Task<ToolResult> RunAsync(ToolInvocation invocation, CancellationToken cancellationToken = default)
        {
            if (invocation.Tool != "mkfs.ext4")
            {
                return await inner.RunAsync(invocation, cancellationToken);
            }

            Started = true;
            var target = invocation.Arguments[^2];
            await File.WriteAllBytesAsync(target, new byte[ByteSize.MiB], cancellationToken);
            await Task.Delay(TimeSpan.FromMinutes(5), cancellationToken);
            return await inner.RunAsync(invocation, cancellationToken);
        }
    }
}
