using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.EndToEnd;

/// <summary>client-sample as a user runs it: against one silo-host process, twice in a row, each run ending by itself.</summary>
public sealed class ClientSampleTests
{
    [Fact]
    public async Task The_sample_runs_twice_against_one_silo_and_each_run_settles_its_orders_and_exits_0()
    {
        using var data = new TestData();
        var gatewayPort = RealProcess.FreePort();
        using var silo = new SiloProcess(data.Directory, RealProcess.FreePort(), gatewayPort);
        await silo.WaitUntilReadyAsync();

        for (var run = 1; run <= 2; run++)
        {
            var (exitCode, output, error) = await RealProcess.RunAsync(RealProcess.ClientSampleDll, data.Directory, TimeSpan.FromSeconds(120), $"--Broker:GatewayPort={gatewayPort}");
            Assert.True(exitCode == 0, $"run {run} exited {exitCode}:\n{output}\n{error}");
            Assert.Contains("done: 5 orders reserved, 1 dead-lettered", output, StringComparison.Ordinal);
            Assert.Contains("order-bad after 3 attempts: delivery attempts exhausted (3 of 3)", output, StringComparison.Ordinal);
            Assert.Contains("order-3 published again: stored once", output, StringComparison.Ordinal);
        }
    }
}
