using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Net;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using OrleansBroker.Cli.Bench;

namespace OrleansBroker.Cli.Commands;

/// <summary>
/// <c>obroker bench mqtt</c>: QoS 1 throughput through a silo's MQTT listener with MQTTnet, one publisher with a window of
/// unacknowledged publishes and one persistent-session subscriber, as an MQTT user would measure it. One JSON line on stdout.
/// </summary>
internal static class MqttBenchCommand
{
    public static Command Create()
    {
        var host = new Option<string>("--host") { Description = "The silo's MQTT address. Default 127.0.0.1.", DefaultValueFactory = _ => "127.0.0.1" };
        var port = new Option<int>("--port") { Description = "Its MQTT port. Default 1883.", DefaultValueFactory = _ => 1883 };
        var user = new Option<string>("--user") { Description = "User to sign in as. Default admin.", DefaultValueFactory = _ => "admin" };
        var password = new Option<string?>("--password")
        {
            Description = "Its password, or an API key. Default: $OBROKER_PASSWORD.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("OBROKER_PASSWORD"),
        };
        var messages = new Option<int>("--messages") { Description = "Messages to publish. Default 100000.", DefaultValueFactory = _ => 100_000 };
        var size = new Option<int>("--size") { Description = "Payload bytes, 1 to 1048576. Default 1024.", DefaultValueFactory = _ => 1024 };
        var inflight = new Option<int>("--inflight") { Description = "QoS 1 publishes unacknowledged at once, 1 to 1000. Default 100.", DefaultValueFactory = _ => 100 };
        var warmup = new Option<int>("--warmup") { Description = "Messages sent the same way first, not measured (connections, JIT, the topic's first use). Default 5000.", DefaultValueFactory = _ => 5000 };
        var command = new Command("mqtt", "Publish N QoS 1 messages over MQTT (one publisher, --inflight at once) to one persistent-session subscriber: messages/s end to end, publish rate, PUBACK latency.")
        {
            host, port, user, password, messages, size, inflight, warmup,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (count, bytes, window) = (parse.GetValue(messages), parse.GetValue(size), parse.GetValue(inflight));
            var warm = parse.GetValue(warmup);
            if (count is < 1 or > 100_000_000 || bytes is < 1 or > 1024 * 1024 || window is < 1 or > 1000 || warm is < 0 or > 10_000_000)
            {
                throw new CliException(2, "--messages must be 1 to 100000000, --size 1 to 1048576, --inflight 1 to 1000, --warmup 0 to 10000000");
            }

            var secret = parse.GetValue(password) ?? throw new CliException(2, "bench mqtt needs --password (or OBROKER_PASSWORD)");
            var endpoint = new IPEndPoint(Dns.GetHostAddresses(parse.GetValue(host)!)[0], parse.GetValue(port));
            if (warm > 0)
            {
                await RunAsync(endpoint, parse.GetValue(user)!, secret, warm, bytes, window, cancellationToken);
            }

            var result = await RunAsync(endpoint, parse.GetValue(user)!, secret, count, bytes, window, cancellationToken);
            Console.WriteLine(result.ToJson());
            return result.Lost > 0 ? 1 : 0;
        });
        return command;
    }

    private static async Task<BenchResult> RunAsync(IPEndPoint endpoint, string user, string password, int count, int size, int window, CancellationToken cancellationToken)
    {
        var id = Guid.NewGuid().ToString("N")[..8];
        var topic = $"bench/{id}";
        var received = new ConcurrentDictionary<int, byte>();
        var duplicates = 0L;
        var all = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var subscriber = await ConnectAsync(endpoint, user, password, $"bench-sub-{id}", persistent: true, cancellationToken);
        subscriber.ApplicationMessageReceivedAsync += e =>
        {
            var index = BitConverter.ToInt32(e.ApplicationMessage.Payload.FirstSpan[..4]);
            if (!received.TryAdd(index, 0))
            {
                Interlocked.Increment(ref duplicates);
            }
            else if (received.Count == count)
            {
                all.TrySetResult();
            }

            return Task.CompletedTask;
        };
        await subscriber.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter($"{topic}/#", MqttQualityOfServiceLevel.AtLeastOnce).Build(), cancellationToken);
        using var publisher = await ConnectAsync(endpoint, user, password, $"bench-pub-{id}", persistent: false, cancellationToken);

        var latencies = new double[count];
        var started = Stopwatch.GetTimestamp();
        using var gate = new SemaphoreSlim(window);
        var failures = 0L;
        var sends = new List<Task>(count);
        for (var i = 0; i < count; i++)
        {
            await gate.WaitAsync(cancellationToken);
            var index = i;
            sends.Add(PublishOneAsync());

            async Task PublishOneAsync()
            {
                var payload = new byte[size];
                BitConverter.TryWriteBytes(payload, index);
                var sent = Stopwatch.GetTimestamp();
                try
                {
                    var ack = await publisher.PublishAsync(new MqttApplicationMessageBuilder().WithTopic($"{topic}/{index % 16}").WithPayload(payload)
                        .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build(), cancellationToken);
                    if (!ack.IsSuccess)
                    {
                        Interlocked.Increment(ref failures);
                    }

                    latencies[index] = Stopwatch.GetElapsedTime(sent).TotalMilliseconds;
                }
                catch (Exception) when (!cancellationToken.IsCancellationRequested)
                {
                    Interlocked.Increment(ref failures);
                }
                finally
                {
                    gate.Release();
                }
            }
        }

        await Task.WhenAll(sends);
        var published = Stopwatch.GetElapsedTime(started).TotalSeconds;
        await Task.WhenAny(all.Task, Task.Delay(TimeSpan.FromSeconds(60), cancellationToken));
        var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;

        // The subscriber's session ends with a clean start, so nothing of the bench stays on the broker.
        await subscriber.DisconnectAsync(cancellationToken: cancellationToken);
        using (var cleanup = await ConnectAsync(endpoint, user, password, $"bench-sub-{id}", persistent: false, cancellationToken))
        {
            await cleanup.DisconnectAsync(cancellationToken: cancellationToken);
        }

        await publisher.DisconnectAsync(cancellationToken: cancellationToken);
        Array.Sort(latencies);
        return new BenchResult
        {
            Scenario = "mqtt",
            Messages = count,
            Size = size,
            Producers = 1,
            Consumers = 1,
            Inflight = window,
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

    private static async Task<IMqttClient> ConnectAsync(IPEndPoint endpoint, string user, string password, string clientId, bool persistent, CancellationToken cancellationToken)
    {
        var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer(tcp => tcp.BufferSize = 1024 * 1024) // MQTTnet's default 8 KiB socket buffers stall a busy subscriber
            .WithEndPoint(endpoint)
            .WithProtocolVersion(MqttProtocolVersion.V500)
            .WithClientId(clientId)
            .WithCredentials(user, password)
            .WithCleanStart(!persistent)
            .WithSessionExpiryInterval(persistent ? 600u : 0u)
            .WithTimeout(TimeSpan.FromSeconds(30))
            .Build();
        var result = await client.ConnectAsync(options, cancellationToken);
        return result.ResultCode == MqttClientConnectResultCode.Success ? client
            : throw new CliException(1, $"the MQTT listener refused the connect: {result.ResultCode} {result.ReasonString}");
    }
}
