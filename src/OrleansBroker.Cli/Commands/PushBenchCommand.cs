using System.Collections.Concurrent;
using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OrleansBroker.Cli.Bench;
using OrleansBroker.Messages;
using OrleansBroker.Queues;

namespace OrleansBroker.Cli.Commands;

/// <summary>
/// <c>obroker bench push</c>: how fast a silo pushes a queue to an HTTP endpoint that answers at once. The bench runs the
/// receiver itself (Kestrel on a free loopback port: the silo must allow it, <c>--Broker:Push:AllowedHosts:0 127.0.0.1</c>),
/// fills a durable queue made for the run while the receiver does not confirm yet, then confirms and measures pushes/s from
/// the first push to the last. One JSON line on stdout.
/// </summary>
internal static class PushBenchCommand
{
    public static Command Create()
    {
        var messages = new Option<int>("--messages") { Description = "Messages to push. Default 100000.", DefaultValueFactory = _ => 100_000 };
        var size = new Option<int>("--size") { Description = "Body bytes, 4 to 1048576. Default 1024.", DefaultValueFactory = _ => 1024 };
        var concurrency = new Option<int>("--concurrency") { Description = "The endpoint's most requests in flight, 1 to 1000. Default 64.", DefaultValueFactory = _ => 64 };
        var warmup = new Option<int>("--warmup") { Description = "Messages pushed the same way first, not measured (connections, JIT). Default 5000.", DefaultValueFactory = _ => 5000 };
        var command = new Command("push", "Fill a new durable queue with N messages, then let the silo push them to a local receiver that answers 200 at once: pushes/s.")
        {
            messages, size, concurrency, warmup,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (count, bytes, window, warm) = (parse.GetValue(messages), parse.GetValue(size), parse.GetValue(concurrency), parse.GetValue(warmup));
            if (count is < 1 or > 10_000_000 || bytes is < 4 or > 1024 * 1024 || window is < 1 or > PushEndpoint.MaxMaxConcurrency || warm is < 0 or > 10_000_000)
            {
                throw new CliException(2, "--messages must be 1 to 10000000, --size 4 to 1048576, --concurrency 1 to 1000, --warmup 0 to 10000000");
            }

            await using var receiver = await Receiver.StartAsync();
            await using var broker = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            if (warm > 0)
            {
                await RunAsync(broker, receiver, warm, bytes, window, cancellationToken);
            }

            var result = await RunAsync(broker, receiver, count, bytes, window, cancellationToken);
            Console.WriteLine(result.ToJson());
            return result.Lost > 0 ? 1 : 0;
        });
        return command;
    }

    private static async Task<BenchResult> RunAsync(BrokerConnection broker, Receiver receiver, int count, int size, int window, CancellationToken cancellationToken)
    {
        var queue = $"bench-push-{Guid.NewGuid():N}"[..19];
        var hook = receiver.Add(count);
        var endpoint = new PushEndpoint { Url = hook.Url, Secrets = [Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16))], MaxConcurrency = window };
        await broker.Admin.CreateQueueAsync(queue, new QueueOptions { Push = endpoint }, cancellationToken);
        try
        {
            var filling = Stopwatch.StartNew();
            var batches = Enumerable.Range(0, count).Chunk(500).ToList();
            await Parallel.ForEachAsync(batches, new ParallelOptions { MaxDegreeOfParallelism = 4, CancellationToken = cancellationToken }, async (batch, ct) =>
                await broker.Broker.PublishBatchAsync(queue, [.. batch.Select(i => Message(i, size))], ct));
            var filled = filling.Elapsed.TotalSeconds;

            hook.Confirm = true;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromSeconds(60) + TimeSpan.FromMilliseconds(count));
            try
            {
                await hook.All.Task.WaitAsync(timeout.Token);
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
            }

            var elapsed = (hook.Last - hook.First).TotalSeconds;
            return new BenchResult
            {
                Scenario = "push",
                Messages = count,
                Size = size,
                Producers = 1,
                Consumers = 1,
                Inflight = window,
                ElapsedS = Math.Round(elapsed, 3),
                ThroughputMsgsPerS = elapsed > 0 ? Math.Round(hook.Received.Count / elapsed) : 0,
                PublishMsgsPerS = Math.Round(count / filled),
                QueueDepthBefore = count,
                Lost = count - hook.Received.Count,
                Duplicates = hook.Duplicates,
            };
        }
        finally
        {
            await broker.Admin.DeleteQueueAsync(queue, CancellationToken.None);
        }
    }

    private static BrokerMessage Message(int index, int size)
    {
        var body = new byte[size];
        BitConverter.TryWriteBytes(body, index);
        return new BrokerMessage(null, body, "application/octet-stream");
    }

    /// <summary>The endpoint: Kestrel on a free loopback port, a path per run, answering 200 at once.</summary>
    private sealed class Receiver : IAsyncDisposable
    {
        private readonly ConcurrentDictionary<string, Hook> _hooks = new(StringComparer.Ordinal);
        private WebApplication _app = null!;
        private int _port;

        public static async Task<Receiver> StartAsync()
        {
            var receiver = new Receiver();
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
            receiver._app = builder.Build();
            receiver._app.MapPost("/bench/{run}", receiver.HandleAsync);
            await receiver._app.StartAsync();
            receiver._port = new Uri(receiver._app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
            return receiver;
        }

        public Hook Add(int count)
        {
            var run = Guid.NewGuid().ToString("N");
            return _hooks[run] = new Hook($"http://127.0.0.1:{_port}/bench/{run}", count);
        }

        private async Task HandleAsync(HttpContext http, string run)
        {
            if (!_hooks.TryGetValue(run, out var hook))
            {
                http.Response.StatusCode = 404;
                return;
            }

            if (http.Request.Headers.TryGetValue("Broker-Push-Validation", out var token))
            {
                // Confirmed once the queue is full, so that what is measured is pushing alone.
                http.Response.StatusCode = hook.Confirm ? 200 : 503;
                await http.Response.WriteAsync(hook.Confirm ? token.ToString() : "");
                return;
            }

            var body = new byte[4];
            await http.Request.Body.ReadExactlyAsync(body);
            hook.Arrived(BitConverter.ToInt32(body));
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private sealed class Hook(string url, int count)
    {
        private long _first;
        private long _last;
        private long _duplicates;

        public string Url { get; } = url;

        public volatile bool Confirm;

        public ConcurrentDictionary<int, byte> Received { get; } = new();

        public TaskCompletionSource All { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public long Duplicates => Interlocked.Read(ref _duplicates);

        public TimeSpan First => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _first));

        public TimeSpan Last => Stopwatch.GetElapsedTime(0, Interlocked.Read(ref _last));

        public void Arrived(int index)
        {
            var now = Stopwatch.GetTimestamp();
            Interlocked.CompareExchange(ref _first, now, 0);
            if (!Received.TryAdd(index, 0))
            {
                Interlocked.Increment(ref _duplicates);
                return;
            }

            Interlocked.Exchange(ref _last, now);
            if (Received.Count == count)
            {
                All.TrySetResult();
            }
        }
    }
}
