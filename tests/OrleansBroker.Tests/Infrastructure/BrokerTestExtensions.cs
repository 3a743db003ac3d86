using OrleansBroker.Client;
using OrleansBroker.Messages;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>Consuming as a test needs it: take exactly N deliveries, ack each, fail on a timeout instead of hanging.</summary>
public static class BrokerTestExtensions
{
    /// <summary>Receives <paramref name="count"/> deliveries from <paramref name="queue"/>, acking each (awaited) before leaving.</summary>
    public static async Task<List<Delivery>> ReceiveAndAckAsync(this IBrokerClient broker, string queue, int count, int prefetch = 1, TimeSpan? timeout = null)
    {
        var received = new List<Delivery>(count);
        using var cancel = new CancellationTokenSource(timeout ?? Eventually.DefaultTimeout);
        await foreach (var delivery in broker.ReadAllAsync(queue, new ConsumerOptions { Prefetch = prefetch }, cancel.Token))
        {
            await broker.CompleteAsync(delivery);
            received.Add(delivery);
            if (received.Count == count)
            {
                break;
            }
        }

        return received;
    }

    /// <summary>
    /// <see cref="IBrokerClient.ReadAllAsync"/> that ends with an <see cref="OperationCanceledException"/> after
    /// <paramref name="timeout"/> (default <see cref="Eventually.DefaultTimeout"/>): a message that never comes fails
    /// the test instead of hanging the run.
    /// </summary>
    public static async IAsyncEnumerable<Delivery> ReadWithTimeoutAsync(this IBrokerClient broker, string queue, ConsumerOptions? options = null, TimeSpan? timeout = null)
    {
        using var cancel = new CancellationTokenSource(timeout ?? Eventually.DefaultTimeout);
        await foreach (var delivery in broker.ReadAllAsync(queue, options, cancel.Token))
        {
            yield return delivery;
        }
    }
}
