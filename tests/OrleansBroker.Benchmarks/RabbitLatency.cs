using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using RabbitMQ.Client;
using RabbitMQ.Client.Events;

namespace OrleansBroker.Benchmarks;

/// <summary>
/// RabbitMQ measured the way <c>obroker bench latency</c> measures the broker, so that both can run in one sitting
/// (rabbitmq-bench.sh): a durable classic queue, persistent 1 KiB messages published one per call at a fixed pace by a
/// thread of its own (publisher confirms on, not awaited before the next send), one consumer with manual acks and the
/// same prefetch; the latency is from send to delivery, read from each body. Prints one JSON line like the bench's.
/// </summary>
internal static class RabbitLatency
{
    private const int HeaderBytes = 16;

    public static async Task<int> RunAsync(string[] args)
    {
        string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        var uri = new Uri(Option("--uri", "amqp://guest:guest@127.0.0.1:5672/"));
        var rate = double.Parse(Option("--rate", "2000"), CultureInfo.InvariantCulture);
        var duration = double.Parse(Option("--duration", "15"), CultureInfo.InvariantCulture);
        var size = int.Parse(Option("--size", "1024"), CultureInfo.InvariantCulture);
        var prefetch = ushort.Parse(Option("--prefetch", "500"), CultureInfo.InvariantCulture);
        var queue = Option("--queue", "bench-latency");
        var messages = (long)(rate * duration);
        var idle = TimeSpan.FromSeconds(30);

        var factory = new ConnectionFactory { Uri = uri, ClientProvidedName = "rabbit-latency" };
        await using var publisherConnection = await factory.CreateConnectionAsync();
        await using var consumerConnection = await factory.CreateConnectionAsync();
        await using var publishing = await publisherConnection.CreateChannelAsync(new CreateChannelOptions(
            publisherConfirmationsEnabled: true, publisherConfirmationTrackingEnabled: false));
        await using var consuming = await consumerConnection.CreateChannelAsync();
        await publishing.QueueDeclareAsync(queue, durable: true, exclusive: false, autoDelete: false);
        await publishing.QueuePurgeAsync(queue);

        // Confirms name the highest publish they cover; recorded, never awaited by the sender.
        long confirmed = 0;
        long nacked = 0;
        publishing.BasicAcksAsync += (_, ea) =>
        {
            Interlocked.Exchange(ref confirmed, Math.Max(Interlocked.Read(ref confirmed), (long)ea.DeliveryTag));
            return Task.CompletedTask;
        };
        publishing.BasicNacksAsync += (_, _) =>
        {
            Interlocked.Increment(ref nacked);
            return Task.CompletedTask;
        };

        var latencies = new long[messages];
        var seen = new bool[messages];
        long received = 0;
        long duplicates = 0;
        var allReceived = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        await consuming.BasicQosAsync(0, prefetch, global: false);
        var consumer = new AsyncEventingBasicConsumer(consuming);
        consumer.ReceivedAsync += async (_, ea) =>
        {
            var now = Stopwatch.GetTimestamp();
            var body = ea.Body.Span;
            var sequence = BinaryPrimitives.ReadInt64LittleEndian(body);
            var sentAt = BinaryPrimitives.ReadInt64LittleEndian(body[8..]);
            if (sequence >= 0 && sequence < messages && !seen[sequence])
            {
                seen[sequence] = true;
                latencies[received] = now - sentAt;
                if (++received == messages)
                {
                    allReceived.TrySetResult();
                }
            }
            else
            {
                duplicates++;
            }

            await consuming.BasicAckAsync(ea.DeliveryTag, multiple: false);
        };
        await consuming.BasicConsumeAsync(queue, autoAck: false, consumer);

        var properties = new BasicProperties { Persistent = true, ContentType = "application/octet-stream" };
        var clock = Stopwatch.StartNew();
        long sent = 0;
        var pacer = new Thread(() =>
        {
            var start = Stopwatch.GetTimestamp();
            for (long i = 0; i < messages; i++)
            {
                var due = start + (long)(i * Stopwatch.Frequency / rate);
                while (Stopwatch.GetTimestamp() < due)
                {
                    Thread.Sleep(1);
                }

                publishing.BasicPublishAsync("", queue, false, properties, (ReadOnlyMemory<byte>)Body(i, size)).AsTask().GetAwaiter().GetResult();
                Interlocked.Increment(ref sent);
            }
        })
        { IsBackground = true, Name = "rabbit-pacer" };
        pacer.Start();
        pacer.Join();
        var sendElapsed = clock.Elapsed;

        // Waits while deliveries keep coming; fails rather than hangs once nothing arrives for the idle timeout.
        var last = -1L;
        while (!allReceived.Task.IsCompleted)
        {
            if (Interlocked.Read(ref received) == last)
            {
                break;
            }

            last = Interlocked.Read(ref received);
            await Task.WhenAny(allReceived.Task, Task.Delay(idle));
        }

        var elapsed = clock.Elapsed;
        var got = latencies.AsSpan(0, (int)received).ToArray();
        Array.Sort(got);
        double Ms(long ticks) => Math.Round(ticks * 1000.0 / Stopwatch.Frequency, 3);
        double Percentile(double p) => got.Length == 0 ? 0 : Ms(got[Math.Max(0, (int)Math.Ceiling(p * got.Length) - 1)]);
        FormattableString line = $$"""{"scenario":"rabbitmq-latency","messages":{{messages}},"size":{{size}},"rate_msgs_per_s":{{rate}},"elapsed_s":{{Math.Round(elapsed.TotalSeconds, 3)}},"publish_msgs_per_s":{{Math.Round(sent / sendElapsed.TotalSeconds)}},"latency_p50_ms":{{Percentile(0.50)}},"latency_p99_ms":{{Percentile(0.99)}},"latency_max_ms":{{(got.Length == 0 ? 0 : Ms(got[^1]))}},"lost":{{messages - received}},"duplicates":{{duplicates}},"confirmed_up_to":{{Interlocked.Read(ref confirmed)}},"nacked":{{Interlocked.Read(ref nacked)}},"prefetch":{{prefetch}}}""";
        Console.WriteLine(FormattableString.Invariant(line));
        await publishing.QueueDeleteAsync(queue);
        return received == messages && duplicates == 0 && Interlocked.Read(ref nacked) == 0 ? 0 : 1;
    }

    /// <summary>Sequence and send time (<see cref="Stopwatch"/> ticks of this process), then filler that differs per message.</summary>
    private static byte[] Body(long sequence, int size)
    {
        var body = new byte[Math.Max(size, HeaderBytes)];
        BinaryPrimitives.WriteInt64LittleEndian(body, sequence);
        BinaryPrimitives.WriteInt64LittleEndian(body.AsSpan(8), Stopwatch.GetTimestamp());
        Random.Shared.NextBytes(body.AsSpan(HeaderBytes));
        return body;
    }
}
