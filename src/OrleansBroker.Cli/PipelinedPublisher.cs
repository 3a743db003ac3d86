using OrleansBroker.Client;
using OrleansBroker.Messages;

namespace OrleansBroker.Cli;

/// <summary>
/// Publishes a run of messages in calls of up to <c>batch</c> messages with up to <c>window</c> calls
/// awaiting confirmation at once (window 1 keeps strict publish order). Confirmations are counted in
/// call order, so "N confirmed" always means the first N are durable.
/// </summary>
internal static class PipelinedPublisher
{
    /// <summary>Publishing to a queue: one message per call as a single publish, more as a batch.</summary>
    public static Func<IReadOnlyList<BrokerMessage>, CancellationToken, Task> ToQueue(IBrokerClient broker, string queue) =>
        (messages, cancellationToken) => messages.Count == 1
            ? broker.PublishAsync(queue, messages[0], cancellationToken)
            : broker.PublishBatchAsync(queue, messages, cancellationToken);

    /// <summary>Publishing to a topic: every call returns once each matching subscription holds its messages.</summary>
    public static Func<IReadOnlyList<BrokerMessage>, CancellationToken, Task> ToTopic(IBrokerClient broker, string topic) =>
        (messages, cancellationToken) => broker.PublishBatchToTopicAsync(topic, messages, cancellationToken);

    public static async Task RunAsync(
        Func<IReadOnlyList<BrokerMessage>, CancellationToken, Task> publish,
        long total,
        int batch,
        int window,
        Func<long, BrokerMessage> create,
        Action<long> confirmed,
        CancellationToken cancellationToken)
    {
        long sent = 0, done = 0;
        var pending = new Queue<(Task Call, int Count)>();
        while (done < total)
        {
            while (sent < total && pending.Count < window)
            {
                var take = (int)Math.Min(batch, total - sent);
                var messages = new BrokerMessage[take];
                for (var i = 0; i < take; i++)
                {
                    messages[i] = create(sent + i);
                }

                var call = publish(messages, cancellationToken);
                pending.Enqueue((call, take));
                sent += take;
            }

            var (oldest, count) = pending.Dequeue();
            await oldest.ConfigureAwait(false);
            done += count;
            confirmed(done);
        }
    }
}
