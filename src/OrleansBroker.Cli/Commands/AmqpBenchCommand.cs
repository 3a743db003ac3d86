using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using Amqp;
using Amqp.Framing;
using OrleansBroker.Cli.Bench;

namespace OrleansBroker.Cli.Commands;

/// <summary>
/// <c>obroker bench amqp</c>: throughput through a silo's AMQP 1.0 listener with AMQP.Net Lite, one sender with a window of
/// unsettled transfers and one receiver with link credit, accepting each, to a durable queue made for the run (through the
/// gateway, and deleted after it). One JSON line on stdout.
/// </summary>
internal static class AmqpBenchCommand
{
    public static Command Create()
    {
        var host = new Option<string>("--host") { Description = "The silo's AMQP address. Default 127.0.0.1.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Its AMQP port. Default 5672.", DefaultValueFactory = _ => 5672 };
        var user = new Option<string>("--user") { Description = "User to sign in as (SASL PLAIN). Default admin.", DefaultValueFactory = _ => "admin" };
        var password = new Option<string?>("--password")
        {
            Description = "Its password, or an API key. Default: $OBROKER_PASSWORD.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("OBROKER_PASSWORD"),
        };
        var messages = new Option<int>("--messages") { Description = "Messages to send. Default 100000.", DefaultValueFactory = _ => 100_000 };
        var size = new Option<int>("--size") { Description = "Body bytes, 4 to 1048576. Default 1024.", DefaultValueFactory = _ => 1024 };
        var inflight = new Option<int>("--inflight") { Description = "Transfers unsettled at once, 1 to 5000. Default 100.", DefaultValueFactory = _ => 100 };
        var credit = new Option<int>("--credit") { Description = "The receiver's link credit, 1 to 10000. Default 500.", DefaultValueFactory = _ => 500 };
        var warmup = new Option<int>("--warmup") { Description = "Messages sent the same way first, not measured (connections, JIT). Default 5000.", DefaultValueFactory = _ => 5000 };
        var command = new Command("amqp", "Send N messages over AMQP 1.0 (one sender, --inflight unsettled) to a new durable queue while one receiver (--credit) accepts each: messages/s end to end, send rate, settle latency.")
        {
            host, port, user, password, messages, size, inflight, credit, warmup,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (count, bytes, window, receiverCredit, warm) = (parse.GetValue(messages), parse.GetValue(size), parse.GetValue(inflight), parse.GetValue(credit), parse.GetValue(warmup));
            if (count is < 1 or > 100_000_000 || bytes is < 4 or > 1024 * 1024 || window is < 1 or > 5000 || receiverCredit is < 1 or > 10_000 || warm is < 0 or > 10_000_000)
            {
                throw new CliException(2, "--messages must be 1 to 100000000, --size 4 to 1048576, --inflight 1 to 5000, --credit 1 to 10000, --warmup 0 to 10000000");
            }

            var secret = parse.GetValue(password) ?? throw new CliException(2, "bench amqp needs --password (or OBROKER_PASSWORD)");
            var address = new Address(parse.GetValue(host)!, parse.GetValue(port), parse.GetValue(user), secret, scheme: "amqp");
            await using var broker = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            var queue = $"bench-amqp-{Guid.NewGuid():N}"[..19];
            await broker.Admin.CreateQueueAsync(queue, cancellationToken: cancellationToken);
            try
            {
                if (warm > 0)
                {
                    await RunAsync(address, queue, warm, bytes, window, receiverCredit, cancellationToken);
                }

                var result = await RunAsync(address, queue, count, bytes, window, receiverCredit, cancellationToken);
                Console.WriteLine(result.ToJson());
                return result.Lost > 0 ? 1 : 0;
            }
            finally
            {
                await broker.Admin.DeleteQueueAsync(queue, CancellationToken.None);
            }
        });
        return command;
    }

    private static async Task<BenchResult> RunAsync(Address address, string queue, int count, int size, int window, int credit, CancellationToken cancellationToken)
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        var received = new ConcurrentDictionary<int, byte>();
        var duplicates = 0L;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var receiving = await new ConnectionFactory().CreateAsync(address, cancellationToken);
        var sending = await new ConnectionFactory().CreateAsync(address, cancellationToken);
        try
        {
            var receiver = new ReceiverLink(new Session(receiving), "bench-receiver", $"/queues/{queue}");
            receiver.Start(credit, (link, message) =>
            {
                var index = BitConverter.ToInt32(((Data)message.BodySection).Binary, 0);
                link.Accept(message);
                if (!received.TryAdd(index, 0))
                {
                    Interlocked.Increment(ref duplicates);
                }
                else if (received.Count == count)
                {
                    all.TrySetResult();
                }
            });
            var sender = new SenderLink(new Session(sending), "bench-sender", $"/queues/{queue}");
            var latencies = new double[count];
            var failures = 0L;
            using var gate = new SemaphoreSlim(window);
            var started = Stopwatch.GetTimestamp();
            for (var i = 0; i < count; i++)
            {
                await gate.WaitAsync(cancellationToken);
                var body = new byte[size];
                BitConverter.TryWriteBytes(body, i);
                var message = new Message { BodySection = new Data { Binary = body }, Properties = new Properties { MessageId = $"{run}-{i}" } };
                var sent = Stopwatch.GetTimestamp();
                var index = i;
                sender.Send(message, (_, _, outcome, _) =>
                {
                    latencies[index] = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
                    if (outcome is not Accepted)
                    {
                        Interlocked.Increment(ref failures);
                    }

                    gate.Release();
                }, null);
            }

            for (var i = 0; i < window; i++)
            {
                await gate.WaitAsync(cancellationToken);
            }

            var published = Stopwatch.GetElapsedTime(started).TotalSeconds;
            await Task.WhenAny(all.Task, Task.Delay(TimeSpan.FromSeconds(60), cancellationToken));
            var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
            Array.Sort(latencies);
            return new BenchResult
            {
                Scenario = "amqp",
                Messages = count,
                Size = size,
                Producers = 1,
                Consumers = 1,
                Inflight = window,
                Prefetch = credit,
                ElapsedS = Math.Round(elapsed, 3),
                ThroughputMsgsPerS = Math.Round(received.Count / elapsed),
                PublishMsgsPerS = Math.Round(count / published),
                LatencyP50Ms = Math.Round(latencies[(int)(count * 0.50)], 2),
                LatencyP99Ms = Math.Round(latencies[Math.Min(count - 1, (int)(count * 0.99))], 2),
                LatencyMaxMs = Math.Round(latencies[^1], 2),
                Lost = count - received.Count,
                Duplicates = duplicates,
                PublishRetries = failures,
            };
        }
        finally
        {
            await sending.CloseAsync();
            await receiving.CloseAsync();
        }
    }
}
