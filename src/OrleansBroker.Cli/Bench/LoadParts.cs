using OrleansBroker.Client;
using OrleansBroker.Messages;

namespace OrleansBroker.Cli.Bench;

/// <summary>Producers: each publishes its share through <see cref="PipelinedPublisher"/>, bodies from <see cref="BenchPayload"/>.</summary>
/// <remarks>Producer ids run from <paramref name="firstProducer"/>; a body names its producer, so filler can be told apart from a measured run.</remarks>
internal sealed class ProducerGroup(Func<IReadOnlyList<BrokerMessage>, CancellationToken, Task> publish, long[] perProducer, int size, int batch, int inflight, int firstProducer = 0)
{
    /// <summary>Pause before a failed publish is tried again.</summary>
    private static readonly TimeSpan RetryPause = TimeSpan.FromMilliseconds(200);

    private long _confirmed;
    private long _retries;

    public long Confirmed => Interlocked.Read(ref _confirmed);

    public long Retries => Interlocked.Read(ref _retries);

    /// <summary>
    /// Whether a failed publish call is sent again until confirmed. Messages then carry ids (<c>p{producer}-{sequence}</c>),
    /// so a call that was stored before it failed is deduplicated by the queue, not stored twice.
    /// </summary>
    public bool Retry { get; init; }

    public Task RunAsync(CancellationToken cancellationToken) => Task.WhenAll(perProducer.Select((count, producer) => Task.Run(() =>
    {
        long last = 0;
        var id = firstProducer + producer;
        return PipelinedPublisher.RunAsync(Retry ? RetryingAsync : publish, count, batch, inflight,
            sequence => new BrokerMessage(Retry ? $"p{id}-{sequence}" : null, BenchPayload.Create(id, sequence, size), "application/octet-stream"),
            done =>
            {
                Interlocked.Add(ref _confirmed, done - last);
                last = done;
            },
            cancellationToken);
    }, cancellationToken)));

    private async Task RetryingAsync(IReadOnlyList<BrokerMessage> messages, CancellationToken cancellationToken)
    {
        while (true)
        {
            try
            {
                await publish(messages, cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception exception) when (exception is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                Interlocked.Increment(ref _retries);
                Console.Error.WriteLine($"publish failed, trying again: {exception.GetBaseException().Message}");
                await Task.Delay(RetryPause, cancellationToken).ConfigureAwait(false);
            }
        }
    }
}

/// <summary>
/// Consumers: each a push subscription (<see cref="IBrokerClient.ReadAllAsync"/>) that records every
/// delivery and acks it without awaiting it one by one; or, with <c>handler</c>, a handler consumer
/// (<see cref="IBrokerClient.ConsumeAsync"/>, one handler at a time) that records it and returns, acked by the client.
/// <see cref="StopAsync"/> first waits for every ack, then unsubscribes, so nothing is requeued behind the run's back.
/// </summary>
internal sealed class ConsumerGroup
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _consumers;

    public ConsumerGroup(IBrokerClient broker, string queue, int consumers, int prefetch, DeliveryTracker tracker, bool handler = false)
    {
        Tracker = tracker;
        _consumers = Enumerable.Range(0, consumers).Select(i => Task.Run(async () =>
        {
            try
            {
                var options = new ConsumerOptions { Prefetch = prefetch, ConsumerId = $"bench-{Environment.ProcessId}-{i}" };
                if (handler)
                {
                    await HandleAsync(broker, queue, options, tracker).ConfigureAwait(false);
                    return;
                }

                while (true)
                {
                    try
                    {
                        await foreach (var delivery in broker.ReadAllAsync(queue, options, _stop.Token).ConfigureAwait(false))
                        {
                            tracker.Record(delivery.Body);
                            Acks.Track(broker.CompleteAsync(delivery, CancellationToken.None));
                        }

                        return;
                    }
                    catch (Exception exception) when (exception is not OperationCanceledException || !_stop.IsCancellationRequested)
                    {
                        // A consumer that could not register (a silo of the cluster had just died, say) starts again, as an
                        // application's would; what it held stays leased until its registration ends, then comes again.
                        Console.Error.WriteLine($"consumer {i} stopped, starting again: {exception.GetBaseException().Message}");
                        await Task.Delay(TimeSpan.FromSeconds(1), _stop.Token).ConfigureAwait(false);
                    }
                }
            }
            catch (OperationCanceledException) when (_stop.IsCancellationRequested)
            {
            }
        })).ToArray();
    }

    public DeliveryTracker Tracker { get; }

    /// <summary>Runs a handler consumer until the group stops; disposing it waits for the acks it sent.</summary>
    private async Task HandleAsync(IBrokerClient broker, string queue, ConsumerOptions options, DeliveryTracker tracker)
    {
        var consumer = await broker.ConsumeAsync(queue, (delivery, _) =>
        {
            tracker.Record(delivery.Body);
            return Task.CompletedTask;
        }, options, cancellationToken: _stop.Token).ConfigureAwait(false);
        await using (consumer.ConfigureAwait(false))
        {
            await Task.WhenAny(consumer.Completion, Task.Delay(Timeout.Infinite, _stop.Token)).ConfigureAwait(false);
        }
    }

    public CallWindow Acks { get; } = new();

    /// <summary>Awaits every ack sent so far, then ends the subscriptions.</summary>
    public async Task StopAsync()
    {
        await Acks.DrainAsync().ConfigureAwait(false);
        await _stop.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_consumers).ConfigureAwait(false);
        await Acks.DrainAsync().ConfigureAwait(false);
        _stop.Dispose();
        if (Acks.FirstError is { } error)
        {
            Console.Error.WriteLine($"{Acks.Failed} acks failed (those messages are delivered again after their lease); the first: {error}");
        }
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
