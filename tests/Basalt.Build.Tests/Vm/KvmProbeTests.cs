using Basalt.Build.Vm;
using Basalt.Platform;
using Basalt.Testing;

namespace Basalt.Build.Tests.Vm;

public sealed class KvmProbeTests
{
    [Fact]
    public void The_test_guest_is_one_bios_boot_sector()
    {
        var sector = KvmProbe.BootSector();

        Assert.Equal(512, sector.Length);
        Assert.Equal([0x55, 0xAA], sector[510..]);
        // It writes to COM1 (0x3f8) and then to isa-debug-exit (0xf4), so QEMU ends by itself.
        Assert.Equal([0xBA, 0xF8, 0x03], sector[..3]);
        Assert.Contains((byte)0xE6, sector);
    }

    [Fact]
    [Trait(Tiers.Key, Tiers.Integration)]
    public void The_test_guest_runs_to_its_exit_under_tcg_so_a_kvm_that_cannot_run_it_is_told_apart()
    {
        Requires.Tool("qemu-system-x86_64", "qemu-system-x86");
        Requires.Tool("timeout", "coreutils");

        Assert.Null(KvmProbe.GuestProblem(new ToolRunner(), VmAccelerator.Tcg));
    }

    [Fact]
    public void A_guest_that_does_not_run_is_reported_with_its_accelerator()
    {
        var problem = KvmProbe.GuestProblem(new FailingRunner(), VmAccelerator.Kvm);

        Assert.NotNull(problem);
        Assert.Contains("-accel kvm", problem, StringComparison.Ordinal);
    }

    private sealed class FailingRunner : IToolRunner
    {
        public Task<ToolResult> RunAsync(ToolInvocation invocation, CancellationToken cancellationToken = default) =>
            throw new ToolFailedException(invocation.CommandLine, 124, "timed out");

        public string? Locate(string tool) => null;
    }
}
