using System.Collections.Concurrent;
using Amqp;
using Amqp.Framing;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using static OrleansBroker.Tests.Amqp.AmqpTestExtensions;

namespace OrleansBroker.Tests.Amqp;

/// <summary>AMQP durability as a user meets it: a silo-host process killed with kill -9 under load, then restarted.</summary>
public sealed class AmqpKillTests
{
    private const int Count = 10_000;
    private const int InFlight = 100;
    private const string Password = "amqp-kill-password";

    [Fact]
    public async Task Every_accepted_send_of_ten_thousand_reaches_a_proton_receiver_across_a_kill_9()
    {
        using var data = new TestData();
        var (siloPort, gatewayPort, amqpPort) = (RealProcess.FreePort(), RealProcess.FreePort(), RealProcess.FreePort());
        string[] args = ["--amqp-port", $"{amqpPort}", "--Broker:Http:AdminPassword", Password];
        var accepted = new ConcurrentDictionary<int, bool>();
        var received = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        using var receiver = await QpidProton.StartReceiverAsync(amqpPort, "admin", Password, "/queues/load", 500, id => received.AddOrUpdate(id, 1, (_, n) => n + 1));
        try
        {
            using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort, args))
            {
                await silo.WaitUntilReadyAsync();
                await using (var dotnet = await GatewayClient.ConnectAsync(gatewayPort))
                {
                    await dotnet.Admin.CreateQueueAsync("load");
                }

                await SendAsync(amqpPort, Enumerable.Range(0, Count), accepted, stopAfter: 4_000);
                var sending = SendAsync(amqpPort, Enumerable.Range(0, Count).Where(i => !accepted.ContainsKey(i)), accepted, stopAfter: int.MaxValue);
                await Eventually.HoldsAsync(() => accepted.Count >= 6_000, "sending went on");
                silo.KillHard();
                await Assert.ThrowsAnyAsync<Exception>(() => sending);
            }

            Assert.InRange(accepted.Count, 6_000, Count - 1);
            using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort, args))
            {
                await silo.WaitUntilReadyAsync();

                // The sender sends again what was not accepted; the receiver connects again by itself.
                await SendAsync(amqpPort, Enumerable.Range(0, Count).Where(i => !accepted.ContainsKey(i)), accepted, stopAfter: int.MaxValue);
                Assert.Equal(Count, accepted.Count);
                try
                {
                    await Eventually.HoldsAsync(() => accepted.Keys.All(i => received.ContainsKey($"m{i}")), "every accepted message arrived", TimeSpan.FromMinutes(3));
                }
                catch (TimeoutException)
                {
                    Assert.Fail($"{accepted.Keys.Count(i => !received.ContainsKey($"m{i}"))} of {Count} accepted messages never arrived, e.g. {string.Join(", ", accepted.Keys.Where(i => !received.ContainsKey($"m{i}")).Order().Take(10))}");
                }
            }
        }
        finally
        {
            receiver.Kill();
        }
    }

    /// <summary>
    /// Sends message i with id "m{i}" to /queues/load from one AMQP.Net Lite link, <see cref="InFlight"/> unsettled at a time,
    /// recording each one the broker accepted; stops after <paramref name="stopAfter"/> acceptances. Throws when the
    /// connection fails.
    /// </summary>
    private static async Task SendAsync(int port, IEnumerable<int> indexes, ConcurrentDictionary<int, bool> accepted, int stopAfter)
    {
        using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
        var connection = await new ConnectionFactory().CreateAsync(new Address("127.0.0.1", port, "admin", Password, scheme: "amqp"), timeout.Token);
        var sender = new SenderLink(new Session(connection), "load-sender", "/queues/load");
        var done = 0;
        Exception? failed = null;
        using var gate = new SemaphoreSlim(InFlight);
        try
        {
            foreach (var i in indexes)
            {
                if (Volatile.Read(ref done) >= stopAfter || Volatile.Read(ref failed) is not null)
                {
                    break;
                }

                if (!await gate.WaitAsync(Eventually.DefaultTimeout))
                {
                    throw new TimeoutException("no send was settled within the timeout");
                }

                sender.Send(Text($"m{i}", $"m{i}"), (_, _, outcome, _) =>
                {
                    if (outcome is Accepted)
                    {
                        accepted[i] = true;
                        Interlocked.Increment(ref done);
                    }
                    else
                    {
                        Interlocked.CompareExchange(ref failed, new InvalidOperationException($"m{i}: {outcome}"), null);
                    }

                    gate.Release();
                }, null);
            }

            // Every send settled (or the connection failed).
            for (var i = 0; i < InFlight; i++)
            {
                if (!await gate.WaitAsync(Eventually.DefaultTimeout))
                {
                    throw new TimeoutException("the last sends were not settled within the timeout");
                }
            }
        }
        finally
        {
            if (!connection.IsClosed)
            {
                await connection.CloseAsync();
            }
        }

        if (failed is not null || connection.Error is not null)
        {
            throw failed ?? new AmqpException(connection.Error);
        }
    }
}
