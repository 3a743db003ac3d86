using System.Collections.Concurrent;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Amqp;

/// <summary>Qpid Proton's Python client against the AMQP listener of a silo-host process.</summary>
public sealed class AmqpProtonTests(AmqpSilo broker) : IClassFixture<AmqpSilo>
{
    [Fact]
    public async Task Proton_sends_and_receives_rejects_into_the_dead_letter_queue_and_is_refused_an_unknown_address_or_a_bad_password()
    {
        var queue = await broker.CreateQueueAsync();
        var sent = await QpidProton.SendAsync(broker.Port, "clerk", AmqpSilo.ClerkPassword, $"/queues/{queue}", 300);
        Assert.True(sent.ExitCode == 0, sent.Out + sent.Err);
        Assert.Contains("sent 300", sent.Out, StringComparison.Ordinal);
        var info = await broker.Dotnet.Admin.GetQueueInfoAsync(queue);
        Assert.Equal(300, info.Counters.Published);

        var unknown = await QpidProton.SendAsync(broker.Port, "clerk", AmqpSilo.ClerkPassword, "/queues/orders-nowhere", 1);
        Assert.Equal(3, unknown.ExitCode);
        Assert.Contains("refused amqp:not-found", unknown.Out, StringComparison.Ordinal);
        var forbidden = await QpidProton.SendAsync(broker.Port, "clerk", AmqpSilo.ClerkPassword, "/queues/secret", 1);
        Assert.Contains("refused amqp:unauthorized-access", forbidden.Out, StringComparison.Ordinal);
        var badPassword = await QpidProton.SendAsync(broker.Port, "clerk", "wrong", $"/queues/{queue}", 1);
        Assert.NotEqual(0, badPassword.ExitCode);
        Assert.Contains("Authentication failed", badPassword.Err, StringComparison.Ordinal);

        // A .NET publish to reject, among Proton's own.
        await broker.Dotnet.Broker.PublishAsync(queue, new BrokerMessage("reject-me", "reject"u8.ToArray(), "text/plain"));
        var received = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        using var receiver = await QpidProton.StartReceiverAsync(broker.Port, "clerk", AmqpSilo.ClerkPassword, $"/queues/{queue}", 100,
            id => received.AddOrUpdate(id, 1, (_, n) => n + 1));
        try
        {
            await Eventually.HoldsAsync(() => received.Count == 301, "Proton received all 301");
            await Eventually.HoldsAsync(async () => (await broker.Dotnet.Admin.GetQueueInfoAsync(queue)) is { Ready: 0, InFlight: 0, Counters: { Acked: 300, DeadLettered: 1 } },
                "300 accepted, one rejected");
        }
        finally
        {
            receiver.Kill();
        }

        Assert.All(received.Values, n => Assert.Equal(1, n));
        var dead = Assert.Single(await broker.Dotnet.Broker.PeekAsync(QueueName.DefaultDeadLetterQueue(queue)));
        Assert.Equal("reject-me", dead.MessageId);
        Assert.Equal("rejected over AMQP", dead.Headers![BrokerHeaders.DeadLetterReason]);
    }
}
