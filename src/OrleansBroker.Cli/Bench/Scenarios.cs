using System.Diagnostics;
using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Messages;
using OrleansBroker.Queues;

namespace OrleansBroker.Cli.Bench;

/// <summary>The bench scenarios. Each returns the result lines it printed; a run that lost messages says so in <c>lost</c>.</summary>
internal static class Scenarios
{
    /// <summary>Producer id of the depth scenario's filler messages: outside any measured run's producers.</summary>
    private const int FillerProducer = 1_000_000;

    /// <summary>
    /// P producers publish N messages (durable, confirmed) while C consumers receive and ack them.
    /// With no consumers it measures confirmed publishing alone and checks the queue's depth instead.
    /// </summary>
    public static async Task<BenchResult> QueueAsync(IBrokerClient broker, IBrokerAdministrationClient admin, BenchSettings s, CancellationToken cancellationToken)
    {
        await PrepareEmptyQueueAsync(admin, s.Queue, s.Partitions, cancellationToken, retry: s.RetryPublishes);
        var perProducer = s.PerProducer();
        var tracker = new DeliveryTracker(perProducer);
        var consumers = s.Consumers > 0 ? new ConsumerGroup(broker, s.Queue, s.Consumers, s.Prefetch, tracker, s.Handler) : null;
        var producers = new ProducerGroup(PipelinedPublisher.ToQueue(broker, s.Queue), perProducer, s.Size, s.Batch, s.Inflight) { Retry = s.RetryPublishes };
        var written = BrokerProcess.WrittenBytes(s.BrokerPid);
        var clock = Stopwatch.StartNew();
        string Describe() => $"queue: published {producers.Confirmed}/{s.Messages}, received {tracker.Received} ({BenchResult.Rate(tracker.Received, clock.Elapsed)} msg/s)"
            + (s.RetryPublishes ? $", {producers.Retries} publish retries" : "");

        var published = await Watch.UntilAsync(producers.RunAsync(cancellationToken), () => producers.Confirmed + tracker.Received, Describe, s.IdleTimeout, cancellationToken);
        var publishElapsed = clock.Elapsed;
        long lost;
        if (consumers is not null)
        {
            if (published)
            {
                await Watch.UntilAsync(tracker.AllReceived, () => tracker.Received, Describe, s.IdleTimeout, cancellationToken);
            }

            await consumers.StopAsync();
            lost = tracker.Lost;
        }
        else
        {
            var info = await admin.GetQueueInfoAsync(s.Queue, cancellationToken);
            lost = Math.Max(0, s.Messages - info.Ready);
        }

        var elapsed = clock.Elapsed;
        return Result("queue", s, s.Producers, s.Consumers, elapsed, BenchResult.Rate(s.Messages - lost, elapsed), lost, tracker.Duplicates, tracker.Latency(), s.BrokerPid) with
        {
            PublishMsgsPerS = BenchResult.Rate(producers.Confirmed, publishElapsed),
            BrokerWrittenBytesPerMsg = BrokerProcess.WrittenPerMessage(s.BrokerPid, written, producers.Confirmed),
            AckFailures = consumers?.Acks.Failed,
            PublishRetries = s.RetryPublishes ? producers.Retries : null,
            Partitions = s.Partitions > 1 ? s.Partitions : null,
            Foreign = consumers is null ? null : tracker.Foreign,
            Batch = s.Batch,
            Inflight = s.Inflight,
            Prefetch = consumers is null ? null : s.Prefetch,
            Handler = s.Handler ? true : null,
        };
    }

    /// <summary>
    /// Fan-out: P producers publish N messages to a topic with S subscriptions that all match; one consumer group
    /// per subscription acks. Every subscription must receive every message once; throughput counts deliveries
    /// (S × N over the run), the figure a fan-out exchange is judged by.
    /// </summary>
    public static async Task<BenchResult> FanOutAsync(IBrokerClient broker, IBrokerAdministrationClient admin, BenchSettings s, int subscriptions, CancellationToken cancellationToken)
    {
        var topic = s.Queue;
        await PrepareTopicAsync(admin, topic, subscriptions, cancellationToken);
        var perProducer = s.PerProducer();
        var trackers = Enumerable.Range(0, subscriptions).Select(_ => new DeliveryTracker(perProducer)).ToArray();
        var groups = trackers.Select((tracker, i) => new ConsumerGroup(broker, $"{topic}/s{i + 1}", Math.Max(1, s.Consumers), s.Prefetch, tracker)).ToArray();
        var producers = new ProducerGroup(PipelinedPublisher.ToTopic(broker, topic), perProducer, s.Size, s.Batch, s.Inflight);
        var written = BrokerProcess.WrittenBytes(s.BrokerPid);
        var clock = Stopwatch.StartNew();
        long Received() => trackers.Sum(t => t.Received);
        string Describe() => $"fanout: published {producers.Confirmed}/{s.Messages}, delivered {Received()}/{s.Messages * subscriptions} ({BenchResult.Rate(Received(), clock.Elapsed)} deliveries/s)";

        if (await Watch.UntilAsync(producers.RunAsync(cancellationToken), () => producers.Confirmed + Received(), Describe, s.IdleTimeout, cancellationToken))
        {
            await Watch.UntilAsync(Task.WhenAll(trackers.Select(t => t.AllReceived)), Received, Describe, s.IdleTimeout, cancellationToken);
        }

        foreach (var group in groups)
        {
            await group.StopAsync();
        }

        var elapsed = clock.Elapsed;
        var lost = trackers.Sum(t => t.Lost);
        var latency = LatencySummary.FromTicks([.. trackers.SelectMany(t => t.LatencyTicks())]);
        return Result("fanout", s, s.Producers, subscriptions * Math.Max(1, s.Consumers), elapsed, BenchResult.Rate(Received(), elapsed), lost, trackers.Sum(t => t.Duplicates), latency, s.BrokerPid) with
        {
            Subscribers = subscriptions,
            PublishMsgsPerS = BenchResult.Rate(producers.Confirmed, elapsed),
            BrokerWrittenBytesPerMsg = BrokerProcess.WrittenPerMessage(s.BrokerPid, written, producers.Confirmed),
            AckFailures = groups.Sum(g => g.Acks.Failed),
            Batch = s.Batch,
            Inflight = s.Inflight,
            Prefetch = s.Prefetch,
        };
    }

    /// <summary>
    /// One producer publishes single messages at a fixed rate, each call on its own (not awaited before the
    /// next, as a service emitting events would); consumers ack. Reports send-to-receive latency.
    /// </summary>
    public static async Task<BenchResult> LatencyAsync(IBrokerClient broker, IBrokerAdministrationClient admin, BenchSettings s, double rate, CancellationToken cancellationToken)
    {
        await PrepareEmptyQueueAsync(admin, s.Queue, s.Partitions, cancellationToken);
        var tracker = new DeliveryTracker([s.Messages]);
        var consumers = new ConsumerGroup(broker, s.Queue, Math.Max(1, s.Consumers), s.Prefetch, tracker);
        var publishes = new CallWindow();
        long sent = 0;
        var written = BrokerProcess.WrittenBytes(s.BrokerPid);
        var clock = Stopwatch.StartNew();

        // A thread of its own paces the sends: it sleeps until the next send is due and sends whatever is due.
        var pacer = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                var start = Stopwatch.GetTimestamp();
                for (long i = 0; i < s.Messages && !cancellationToken.IsCancellationRequested; i++)
                {
                    var due = start + (long)(i * Stopwatch.Frequency / rate);
                    while (Stopwatch.GetTimestamp() < due)
                    {
                        Thread.Sleep(1);
                    }

                    publishes.Track(broker.PublishAsync(s.Queue, new BrokerMessage(null, BenchPayload.Create(0, i, s.Size), "application/octet-stream"), cancellationToken));
                    Interlocked.Increment(ref sent);
                }

                pacer.TrySetResult();
            }
            catch (Exception exception)
            {
                pacer.TrySetException(exception);
            }
        })
        { IsBackground = true, Name = "bench-pacer" };
        thread.Start();

        string Describe() => $"latency: sent {Interlocked.Read(ref sent)}/{s.Messages}, received {tracker.Received}, p99 so far {tracker.Latency().P99} ms";
        await Watch.UntilAsync(pacer.Task, () => Interlocked.Read(ref sent), Describe, s.IdleTimeout, cancellationToken);
        var sendElapsed = clock.Elapsed;
        await publishes.DrainAsync();
        await Watch.UntilAsync(tracker.AllReceived, () => tracker.Received, Describe, s.IdleTimeout, cancellationToken);
        await consumers.StopAsync();
        var elapsed = clock.Elapsed;
        return Result("latency", s, 1, Math.Max(1, s.Consumers), elapsed, BenchResult.Rate(tracker.Received, elapsed), tracker.Lost, tracker.Duplicates, tracker.Latency(), s.BrokerPid) with
        {
            PublishMsgsPerS = BenchResult.Rate(Interlocked.Read(ref sent), sendElapsed),
            BrokerWrittenBytesPerMsg = BrokerProcess.WrittenPerMessage(s.BrokerPid, written, tracker.Received),
            RateMsgsPerS = rate,
            AckFailures = consumers.Acks.Failed + publishes.Failed,
            Prefetch = s.Prefetch,
        };
    }

    /// <summary>
    /// Publish rate into a queue already holding each of <paramref name="depths"/> messages (filled up to it
    /// first, nothing consumed). After each run the queue must hold exactly what was published: the difference is lost.
    /// </summary>
    public static async Task<IReadOnlyList<BenchResult>> DepthAsync(IBrokerClient broker, IBrokerAdministrationClient admin, BenchSettings s, IReadOnlyList<long> depths, Action<BenchResult> print, CancellationToken cancellationToken)
    {
        await PrepareEmptyQueueAsync(admin, s.Queue, s.Partitions, cancellationToken);
        var results = new List<BenchResult>();
        foreach (var depth in depths.Order())
        {
            var before = (await admin.GetQueueInfoAsync(s.Queue, cancellationToken)).Ready;
            if (before < depth)
            {
                await FillAsync(broker, s.Queue, depth - before, s.Size, s.IdleTimeout, cancellationToken);
                before = (await admin.GetQueueInfoAsync(s.Queue, cancellationToken)).Ready;
            }

            var producers = new ProducerGroup(PipelinedPublisher.ToQueue(broker, s.Queue), s.PerProducer(), s.Size, s.Batch, s.Inflight);
            var clock = Stopwatch.StartNew();
            await Watch.UntilAsync(producers.RunAsync(cancellationToken), () => producers.Confirmed,
                () => $"depth {before}: published {producers.Confirmed}/{s.Messages}", s.IdleTimeout, cancellationToken);
            var elapsed = clock.Elapsed;
            var after = (await admin.GetQueueInfoAsync(s.Queue, cancellationToken)).Ready;
            var result = Result("depth", s, s.Producers, 0, elapsed, BenchResult.Rate(producers.Confirmed, elapsed), Math.Max(0, before + s.Messages - after), 0, null, s.BrokerPid) with
            {
                QueueDepthBefore = before,
                Batch = s.Batch,
                Inflight = s.Inflight,
            };
            print(result);
            results.Add(result);
        }

        return results;
    }

    /// <summary>
    /// Starts the broker, fills a queue with N messages, kills the broker (SIGKILL, as a crash would), starts it
    /// again and measures the time from that start until the first delivery and until every message is acked.
    /// </summary>
    public static async Task<BenchResult> RecoveryAsync(
        Func<CancellationToken, Task<BrokerConnection>> connect, IReadOnlyList<string> siloCommand, BenchSettings s, CancellationToken cancellationToken)
    {
        var log = Path.Combine(Path.GetTempPath(), $"obroker-bench-silo-{Environment.ProcessId}.log");
        Console.Error.WriteLine($"recovery: silo output goes to {log}");
        var silo = BrokerProcess.Start(siloCommand, log);
        try
        {
            await using (var connection = await ConnectWhenUpAsync(connect, silo, cancellationToken))
            {
                await PrepareEmptyQueueAsync(connection.Admin, s.Queue, s.Partitions, cancellationToken);
                await FillAsync(connection.Broker, s.Queue, s.Messages, s.Size, s.IdleTimeout, cancellationToken, producer: 0);
            }

            Console.Error.WriteLine($"recovery: {s.Messages} messages stored; killing the broker (pid {silo.Id})");
            silo.Kill(entireProcessTree: true);
            await silo.WaitForExitAsync(cancellationToken);

            var clock = Stopwatch.StartNew();
            silo = BrokerProcess.Start(siloCommand, log);
            await using var restarted = await ConnectWhenUpAsync(connect, silo, cancellationToken);
            var toGateway = clock.Elapsed;
            var tracker = new DeliveryTracker([s.Messages]);
            var consumers = new ConsumerGroup(restarted.Broker, s.Queue, Math.Max(1, s.Consumers), s.Prefetch, tracker);
            string Describe() => $"recovery: received {tracker.Received}/{s.Messages} after {clock.Elapsed.TotalSeconds:F1} s";
            await Watch.UntilAsync(tracker.FirstReceived, () => tracker.Received, Describe, s.IdleTimeout, cancellationToken);
            var toFirst = clock.Elapsed;
            await Watch.UntilAsync(tracker.AllReceived, () => tracker.Received, Describe, s.IdleTimeout, cancellationToken);
            await consumers.StopAsync();
            var elapsed = clock.Elapsed;
            // Latency is left out: it would be the age of messages stored before the crash.
            var result = Result("recovery", s, 1, Math.Max(1, s.Consumers), elapsed, BenchResult.Rate(tracker.Received, elapsed - toFirst), tracker.Lost, tracker.Duplicates, null, silo.Id) with
            {
                TimeToGatewayS = Math.Round(toGateway.TotalSeconds, 3),
                TimeToFirstDeliveryS = Math.Round(toFirst.TotalSeconds, 3),
                AckFailures = consumers.Acks.Failed,
                Prefetch = s.Prefetch,
            };
            await restarted.Admin.DeleteQueueAsync(s.Queue, cancellationToken);
            return result;
        }
        finally
        {
            await BrokerProcess.StopAsync(silo, TimeSpan.FromSeconds(30));
        }
    }

    /// <summary>
    /// Many queues: creates <paramref name="queues"/> queues, publishes <paramref name="each"/> messages to each (one call
    /// per queue), lists them, receives and acks every message (one receive per queue), then deletes them unless
    /// <paramref name="keep"/>; <paramref name="concurrency"/> calls at a time. Throughput is the publish rate across them;
    /// each step's rate and the broker's memory once the messages are stored come with it.
    /// </summary>
    public static async Task<BenchResult> ManyQueuesAsync(IBrokerClient broker, IBrokerAdministrationClient admin, BenchSettings s, int queues, int each,
        int concurrency, bool keep, bool existing, CancellationToken cancellationToken)
    {
        var names = Enumerable.Range(0, queues).Select(i => $"{s.Queue}-{i}").ToList();

        // Message ids of this run: a later run on the same queues (--existing) is not taken for a repeat by deduplication.
        var run = Guid.NewGuid().ToString("N")[..8];
        long received = 0, duplicates = 0;

        async Task<TimeSpan> StepAsync(string step, Func<string, CancellationToken, Task> work)
        {
            long done = 0;
            var clock = Stopwatch.StartNew();
            var run = Parallel.ForEachAsync(names, new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken }, async (name, token) =>
            {
                await work(name, token).ConfigureAwait(false);
                Interlocked.Increment(ref done);
            });
            if (!await Watch.UntilAsync(run, () => Interlocked.Read(ref done), () => $"queues: {step} {Interlocked.Read(ref done)}/{queues}", s.IdleTimeout, cancellationToken))
            {
                throw new CliException(1, $"bench queues: {step} made no progress for {s.IdleTimeout.TotalSeconds:F0} s ({Interlocked.Read(ref done)}/{queues} done)");
            }

            return clock.Elapsed;
        }

        var created = existing ? TimeSpan.Zero : await StepAsync("created", (name, token) => admin.CreateQueueAsync(name, cancellationToken: token));
        var published = each == 0 ? TimeSpan.Zero : await StepAsync("published to", (name, token) => broker.PublishBatchAsync(name,
            [.. Enumerable.Range(0, each).Select(i => new BrokerMessage($"{name}-{run}-{i}", BenchPayload.Create(0, i, s.Size)))], token));
        var stored = BrokerProcess.Memory(s.BrokerPid);
        var lists = new List<double>();
        for (var i = 0; i < 3; i++)
        {
            var clock = Stopwatch.StartNew();
            var listed = await admin.ListQueuesAsync(cancellationToken).ConfigureAwait(false);
            lists.Add(clock.Elapsed.TotalMilliseconds);
            if (listed.Count < queues)
            {
                throw new CliException(1, $"bench queues: the broker lists {listed.Count} queues, {queues} were created");
            }
        }

        var receivedIn = each == 0 ? TimeSpan.Zero : await StepAsync("received from", async (name, token) =>
        {
            var got = 0;
            while (got < each)
            {
                var deliveries = await broker.ReceiveAsync(name, each - got, TimeSpan.FromSeconds(5), cancellationToken: token).ConfigureAwait(false);
                if (deliveries.Count == 0)
                {
                    break;
                }

                got += deliveries.Count;
                await Task.WhenAll(deliveries.Select(d => broker.CompleteAsync(d, token))).ConfigureAwait(false);
            }

            Interlocked.Add(ref received, Math.Min(got, each));
            Interlocked.Add(ref duplicates, Math.Max(0, got - each));
        });
        var deleted = keep ? TimeSpan.Zero : await StepAsync("deleted", (name, token) => admin.DeleteQueueAsync(name, token));

        var total = (long)queues * each;
        return Result("queues", s with { Messages = total }, 1, each == 0 ? 0 : 1, created + published + receivedIn + deleted,
            BenchResult.Rate(total, published), total - received, duplicates, null, s.BrokerPid) with
        {
            Queues = queues,
            CreatesPerS = existing ? null : BenchResult.Rate(queues, created),
            ReceivesPerS = each == 0 ? null : BenchResult.Rate(received, receivedIn),
            DeletesPerS = keep ? null : BenchResult.Rate(queues, deleted),
            ListMs = Math.Round(lists.Order().ElementAt(1), 1),
            BrokerRssStoredMb = stored?.Rss,
            Inflight = concurrency,
        };
    }

    /// <summary>The fields every scenario states the same way; each adds its own with <c>with</c>. Broker memory is read now.</summary>
    private static BenchResult Result(string scenario, BenchSettings s, int producers, int consumers, TimeSpan elapsed, double throughput,
        long lost, long duplicates, LatencySummary? latency, int? brokerPid)
    {
        var memory = BrokerProcess.Memory(brokerPid);
        return new BenchResult
        {
            Scenario = scenario,
            Messages = s.Messages,
            Size = s.Size,
            Producers = producers,
            Consumers = consumers,
            ElapsedS = Math.Round(elapsed.TotalSeconds, 3),
            ThroughputMsgsPerS = throughput,
            LatencyP50Ms = latency?.P50 ?? 0,
            LatencyP99Ms = latency?.P99 ?? 0,
            LatencyMaxMs = latency?.Max ?? 0,
            Lost = lost,
            Duplicates = duplicates,
            BrokerRssMb = memory?.Rss,
            BrokerPeakRssMb = memory?.Peak,
        };
    }

    private static async Task<BrokerConnection> ConnectWhenUpAsync(Func<CancellationToken, Task<BrokerConnection>> connect, Process silo, CancellationToken cancellationToken)
    {
        var deadline = Stopwatch.StartNew();
        while (true)
        {
            if (silo.HasExited)
            {
                throw new CliException(3, $"the broker exited with code {silo.ExitCode} before it took connections; see its log");
            }

            try
            {
                return await connect(cancellationToken);
            }
            catch (CliException exception) when (exception.ExitCode == 3 && deadline.Elapsed < TimeSpan.FromSeconds(120))
            {
                await Task.Delay(100, cancellationToken);
            }
        }
    }

    private static async Task FillAsync(IBrokerClient broker, string queue, long count, int size, TimeSpan idle, CancellationToken cancellationToken, int producer = FillerProducer)
    {
        var filler = new ProducerGroup(PipelinedPublisher.ToQueue(broker, queue), [count], size, BrokerLimits.MaxBatchCount, 8, producer);
        var ok = await Watch.UntilAsync(filler.RunAsync(cancellationToken), () => filler.Confirmed, () => $"filling {queue}: {filler.Confirmed}/{count}", idle, cancellationToken);
        if (!ok)
        {
            throw new CliException(1, $"filling {queue} made no progress for {idle.TotalSeconds:F0} s");
        }
    }

    /// <summary>A fresh topic with <paramref name="subscriptions"/> subscriptions s1..sN taking every message.</summary>
    private static async Task PrepareTopicAsync(IBrokerAdministrationClient admin, string topic, int subscriptions, CancellationToken cancellationToken)
    {
        try
        {
            await admin.DeleteTopicAsync(topic, cancellationToken);
        }
        catch (BrokerException exception) when (exception.Code == BrokerErrorCode.TopicNotFound)
        {
            // Nothing to clear.
        }

        await admin.CreateTopicAsync(topic, cancellationToken: cancellationToken);
        for (var i = 1; i <= subscriptions; i++)
        {
            await admin.CreateSubscriptionAsync(topic, new Topics.Subscription($"s{i}", Topics.SubscriptionFilter.All, new Queues.QueueOptions()), cancellationToken: cancellationToken);
        }
    }

    /// <summary>
    /// <see cref="PrepareEmptyQueueOnceAsync"/>; with <paramref name="retry"/> (<c>--retry-publishes</c>) tried again, up to 20 times a second
    /// apart, when it fails for a silo that has just died, as the producers' publishes are.
    /// </summary>
    private static async Task PrepareEmptyQueueAsync(IBrokerAdministrationClient admin, string queue, int partitions, CancellationToken cancellationToken, bool retry = false)
    {
        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await PrepareEmptyQueueOnceAsync(admin, queue, partitions, cancellationToken);
                return;
            }
            catch (Exception exception) when (retry && attempt < 20 && !cancellationToken.IsCancellationRequested
                && (exception is not BrokerException || exception is BrokerException { Code: BrokerErrorCode.SiloLost or BrokerErrorCode.StorageUnavailable or BrokerErrorCode.Internal }))
            {
                Console.Error.WriteLine($"preparing queue {queue} failed, trying again: {exception.GetBaseException().Message}");
                await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken);
            }
        }
    }

    private static async Task PrepareEmptyQueueOnceAsync(IBrokerAdministrationClient admin, string queue, int partitions, CancellationToken cancellationToken)
    {
        await admin.CreateQueueIfMissingAsync(queue, new QueueOptions { Partitions = partitions }, cancellationToken);
        var info = await admin.GetQueueInfoAsync(queue, cancellationToken);
        if (info.InFlight > 0)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Queue '{queue}' has {info.InFlight} messages in flight to other consumers; bench needs a queue of its own.");
        }

        if (info.Ready > 0)
        {
            await admin.PurgeQueueAsync(queue, cancellationToken);
        }
    }
}
