using OrleansBroker.Client;
using OrleansBroker.Messages;

namespace OrleansBroker.Cli.Bench;

/// <summary>Producers: each publishes its share through <see cref="PipelinedPublisher"/>, bodies from <see cref="BenchPayload"/>.</summary>
/// <remarks>Producer ids run from <paramref name="firstProducer"/>; a body names its producer, so filler can be told apart from a measured run.</remarks>
internal sealed class ProducerGroup(Func<IReadOnlyList<BrokerMessage>, CancellationToken, Task> publish, long[] perProducer, int size, int batch, int inflight, int firstProducer = 0)
{
    private long _confirmed;

    public long Confirmed => Interlocked.Read(ref _confirmed);

    public Task RunAsync(CancellationToken cancellationToken) => Task.WhenAll(perProducer.Select((count, producer) => Task.Run(() =>
    {
        long last = 0;
        return PipelinedPublisher.RunAsync(publish, count, batch, inflight,
            sequence => new BrokerMessage(null, BenchPayload.Create(firstProducer + producer, sequence, size), "application/octet-stream"),
            done =>
            {
                Interlocked.Add(ref _confirmed, done - last);
                last = done;
            },
            cancellationToken);
    }, cancellationToken)));
}

/// <summary>
/// Consumers: each a push subscription (<see cref="IBrokerClient.ReadAllAsync"/>) that records every
/// delivery and acks it without awaiting it one by one. <see cref="StopAsync"/> first waits for every
/// ack, then unsubscribes, so nothing is requeued behind the run's back.
/// </summary>
internal sealed class ConsumerGroup
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _consumers;

    public ConsumerGroup(IBrokerClient broker, string queue, int consumers, int prefetch, DeliveryTracker tracker)
    {
        Tracker = tracker;
        _consumers = Enumerable.Range(0, consumers).Select(i => Task.Run(async () =>
        {
            try
            {
                var options = new ConsumerOptions { Prefetch = prefetch, ConsumerId = $"bench-{Environment.ProcessId}-{i}" };
                await foreach (var delivery in broker.ReadAllAsync(queue, options, _stop.Token).ConfigureAwait(false))
                {
                    tracker.Record(delivery.Body);
                    Acks.Track(broker.AckAsync(delivery, CancellationToken.None));
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
            }
        })).ToArray();
    }

    public DeliveryTracker Tracker { get; }

    public CallWindow Acks { get; } = new();

    /// <summary>Awaits every ack sent so far, then ends the subscriptions.</summary>
    public async Task StopAsync()
    {
        await Acks.DrainAsync().ConfigureAwait(false);
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_consumers).ConfigureAwait(false);
        await Acks.DrainAsync().ConfigureAwait(false);
        _stop.Dispose();
    }
}

/// <summary>Waits for a condition while reporting progress on stderr once a second; gives up after a stretch with no progress.</summary>
internal static class Watch
{
    /// <returns>True when <paramref name="done"/> completed; false when <paramref name="progress"/> stood still for <paramref name="idle"/>.</returns>
    public static async Task<bool> UntilAsync(Task done, Func<long> progress, Func<string> describe, TimeSpan idle, CancellationToken cancellationToken)
    {
        var last = progress();
        var lastChange = DateTime.UtcNow;
        while (!done.IsCompleted)
        {
            await Task.WhenAny(done, Task.Delay(TimeSpan.FromSeconds(1), cancellationToken)).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            if (done.IsCompleted)
            {
                break;
            }

            Console.Error.WriteLine(describe());
            var now = progress();
            if (now != last)
            {
                last = now;
                lastChange = DateTime.UtcNow;
            }
            else if (DateTime.UtcNow - lastChange > idle)
            {
                return false;
            }
        }

        await done.ConfigureAwait(false);
        return true;
    }
}
