using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.EndToEnd;

/// <summary>Retries, dead letters and redrive the way an operator drives them: silo-host and obroker processes, kill -9 in the middle.</summary>
public sealed class DeadLetterCliTests
{
    [Fact]
    public async Task A_message_requeued_three_times_lands_in_the_dlq_and_obroker_dlq_redrive_brings_it_back_after_kill_9()
    {
        using var data = new TestData();
        var siloPort = RealProcess.FreePort();
        var gatewayPort = RealProcess.FreePort();
        var cli = new ObrokerCli(data.Directory, gatewayPort);

        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort))
        {
            await silo.WaitUntilReadyAsync();
            var created = await cli.OkAsync("queue", "create", "payments", "--retry", "Exponential", "--retry-delay-seconds", "1", "--max-attempts", "3");
            Assert.Contains("retry:          exponential from 1 s ×2 up to 300 s", created, StringComparison.Ordinal);
            await cli.OkAsync("publish", "payments", "--count", "1");
            var consumed = await cli.OkAsync("consume", "payments", "--count", "3", "--requeue", "--timeout", "60");
            Assert.Contains("received and requeued 3 messages", consumed, StringComparison.Ordinal);

            var peek = "";
            await Eventually.HoldsAsync(async () => (peek = await cli.OkAsync("dlq", "peek", "payments")).Contains("message 1", StringComparison.Ordinal), "the message reached the dead-letter queue");
            Assert.Contains("delivery attempts exhausted (3 of 3)", peek, StringComparison.Ordinal);
            silo.KillHard();
        }

        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort))
        {
            await silo.WaitUntilReadyAsync();
            Assert.Contains("redrove 1 messages from payments.dlq", await cli.OkAsync("dlq", "redrive", "payments"), StringComparison.Ordinal);
            var consumed = await cli.OkAsync("consume", "payments", "--count", "1", "--timeout", "60");
            Assert.StartsWith("message 1\n", consumed, StringComparison.Ordinal);
            Assert.Contains("purged 0 messages from payments.dlq", await cli.OkAsync("dlq", "purge", "payments"), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Publish_flags_and_queue_limits_from_the_cli_hold_across_kill_9()
    {
        using var data = new TestData();
        var siloPort = RealProcess.FreePort();
        var gatewayPort = RealProcess.FreePort();
        var cli = new ObrokerCli(data.Directory, gatewayPort);

        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort))
        {
            await silo.WaitUntilReadyAsync();
            var created = await cli.OkAsync("queue", "create", "jobs", "--max-length", "2", "--ttl", "1h", "--dedup-window", "5m");
            Assert.Contains("limits:         2 messages, - bytes, overflow reject-publish", created, StringComparison.Ordinal);
            Assert.Contains("dedup window:   00:05:00", created, StringComparison.Ordinal);

            Assert.Contains("published message job-1 to jobs as sequence 1", await cli.OkAsync("publish", "jobs", "--id", "job-1", "--body", "plain"), StringComparison.Ordinal);
            Assert.Contains("as sequence 1", await cli.OkAsync("publish", "jobs", "--id", "job-1", "--body", "a retry"), StringComparison.Ordinal);
            Assert.Contains("as sequence 2", await cli.OkAsync("publish", "jobs", "--body", "urgent", "--priority", "9", "--key", "k", "--delay", "1s"), StringComparison.Ordinal);

            var full = await cli.RunAsync("publish", "jobs", "--body", "one too many");
            Assert.Equal(2, full.ExitCode);
            Assert.Contains("QueueFull", full.Err, StringComparison.Ordinal);

            var bad = await cli.RunAsync("publish", "jobs", "--priority", "12");
            Assert.Equal(2, bad.ExitCode);
            Assert.Contains("Priority 12 is out of range 0..9", bad.Err, StringComparison.Ordinal);
            silo.KillHard();
        }

        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort))
        {
            await silo.WaitUntilReadyAsync();
            var consumed = await cli.OkAsync("consume", "jobs", "--count", "2", "--timeout", "60");
            Assert.StartsWith("urgent\nplain\n", consumed, StringComparison.Ordinal);
            Assert.Contains("as sequence 1", await cli.OkAsync("publish", "jobs", "--id", "job-1", "--body", "after kill -9"), StringComparison.Ordinal);
            Assert.Contains("ready:          0", await cli.OkAsync("queue", "info", "jobs"), StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Dlq_commands_on_a_queue_without_dead_letters_say_so_and_exit_2()
    {
        using var data = new TestData();
        var gatewayPort = RealProcess.FreePort();
        using var silo = new SiloProcess(data.Directory, RealProcess.FreePort(), gatewayPort);
        await silo.WaitUntilReadyAsync();
        var cli = new ObrokerCli(data.Directory, gatewayPort);
        var create = await cli.RunAsync("queue", "create", "calm");
        Assert.Equal(0, create.ExitCode);

        var peek = await cli.RunAsync("dlq", "peek", "calm");
        Assert.Equal(2, peek.ExitCode);
        Assert.Contains("queue 'calm' has no dead letters yet", peek.Err, StringComparison.Ordinal);
    }
}
