using System.CommandLine;
using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using OrleansBroker.Cli.Bench;

namespace OrleansBroker.Cli.Commands;

/// <summary>
/// <c>obroker bench http</c>: publish throughput of a silo's HTTP API, one message per request or JSON batches, over C
/// keep-alive connections, as a service written in any language would publish. One JSON line on stdout.
/// </summary>
internal static class HttpBenchCommand
{
    public static Command Create()
    {
        var url = new Option<string>("--url") { Description = "The silo's HTTP API. Default http://127.0.0.1:30080.", DefaultValueFactory = _ => "http://127.0.0.1:30080" };
        var user = new Option<string>("--user") { Description = "User to sign in as (HTTP Basic). Default admin.", DefaultValueFactory = _ => "admin" };
        var password = new Option<string?>("--password")
        {
            Description = "Its password. Default: $OBROKER_PASSWORD.",
            DefaultValueFactory = _ => Environment.GetEnvironmentVariable("OBROKER_PASSWORD"),
        };
        var key = new Option<string?>("--key") { Description = "An API key to use instead of a user (Authorization: Bearer)." };
        var messages = new Option<long>("--messages") { Description = "Messages to publish. Default 100000.", DefaultValueFactory = _ => 100_000 };
        var size = new Option<int>("--size") { Description = "Body bytes, 1 to 1048576. Default 1024.", DefaultValueFactory = _ => 1024 };
        var batch = new Option<int>("--batch") { Description = "Messages per request: 1 sends the body raw, more a JSON batch (up to 1000). Default 1.", DefaultValueFactory = _ => 1 };
        var connections = new Option<int>("--connections") { Description = "Requests in flight at once, each on its own keep-alive connection, 1 to 1024. Default 64.", DefaultValueFactory = _ => 64 };
        var warmup = new Option<double>("--warmup") { Description = "Seconds of the same load first, not measured. Default 3.", DefaultValueFactory = _ => 3 };
        var command = new Command("http", "Publish N messages through a silo's HTTP API (bench-<id> queue, deleted afterwards): requests/s, messages/s, request latency.")
        {
            url, user, password, key, messages, size, batch, connections, warmup,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = new Settings(parse.GetValue(messages), parse.GetValue(size), parse.GetValue(batch), parse.GetValue(connections), parse.GetValue(warmup));
            settings.Check();
            if (!Uri.TryCreate(parse.GetValue(url), UriKind.Absolute, out var address))
            {
                throw new CliException(2, "--url must be an absolute URL, as http://127.0.0.1:30080");
            }

            var authorization = parse.GetValue(key) is { } apiKey ? new AuthenticationHeaderValue("Bearer", apiKey)
                : parse.GetValue(password) is { } secret ? new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{parse.GetValue(user)}:{secret}")))
                : throw new CliException(2, "bench http needs --password (or OBROKER_PASSWORD) or --key");
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = settings.Connections, PooledConnectionIdleTimeout = TimeSpan.FromMinutes(5) })
            {
                BaseAddress = address,
                Timeout = TimeSpan.FromSeconds(60),
                DefaultRequestHeaders = { Authorization = authorization },
            };
            var result = await RunAsync(http, settings, cancellationToken);
            Console.WriteLine(result.ToJson());
            return result.Lost > 0 ? 1 : 0;
        });
        return command;
    }

    private sealed record Settings(long Messages, int Size, int Batch, int Connections, double WarmupSeconds)
    {
        public void Check()
        {
            Require(Messages is >= 1 and <= 100_000_000, "--messages must be 1 to 100000000");
            Require(Size is >= 1 and <= 1024 * 1024, "--size must be 1 to 1048576");
            Require(Batch is >= 1 and <= 1000, "--batch must be 1 to 1000");
            Require(Connections is >= 1 and <= 1024, "--connections must be 1 to 1024");
            Require(WarmupSeconds is >= 0 and <= 600, "--warmup must be 0 to 600 seconds");
        }

        private static void Require(bool ok, string message)
        {
            if (!ok)
            {
                throw new CliException(2, message);
            }
        }
    }

    private static async Task<BenchResult> RunAsync(HttpClient http, Settings settings, CancellationToken cancellationToken)
    {
        var queue = $"bench-{Guid.NewGuid():N}"[..14];
        await SendAsync(http, HttpMethod.Put, $"/api/queues/{queue}", Json("{}"), HttpStatusCode.OK, cancellationToken);
        try
        {
            if (settings.WarmupSeconds > 0)
            {
                Console.Error.WriteLine($"warm-up: {settings.WarmupSeconds:F0} s, not measured");
                using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                stop.CancelAfter(TimeSpan.FromSeconds(settings.WarmupSeconds));
                await PublishAsync(http, queue, settings with { Messages = long.MaxValue }, [], stop.Token);
                await SendAsync(http, HttpMethod.Post, $"/api/queues/{queue}/purge", null, HttpStatusCode.OK, cancellationToken);
            }

            var latencies = new List<double>();
            var clock = Stopwatch.StartNew();
            await PublishAsync(http, queue, settings, latencies, cancellationToken);
            var elapsed = clock.Elapsed.TotalSeconds;
            using var info = JsonDocument.Parse(await SendAsync(http, HttpMethod.Get, $"/api/queues/{queue}", null, HttpStatusCode.OK, cancellationToken));
            var stored = info.RootElement.GetProperty("ready").GetInt64() + info.RootElement.GetProperty("delayed").GetInt64();
            latencies.Sort();
            return new BenchResult
            {
                Scenario = "http",
                Messages = settings.Messages,
                Size = settings.Size,
                Producers = settings.Connections,
                Consumers = 0,
                ElapsedS = Math.Round(elapsed, 3),
                ThroughputMsgsPerS = Math.Round(settings.Messages / elapsed),
                PublishMsgsPerS = Math.Round(settings.Messages / elapsed),
                Batch = settings.Batch,
                LatencyP50Ms = Percentile(latencies, 0.50),
                LatencyP99Ms = Percentile(latencies, 0.99),
                LatencyMaxMs = latencies.Count == 0 ? 0 : Math.Round(latencies[^1], 2),
                Lost = Math.Max(0, settings.Messages - stored),
            };
        }
        finally
        {
            try
            {
                await SendAsync(http, HttpMethod.Delete, $"/api/queues/{queue}", null, HttpStatusCode.NoContent, CancellationToken.None);
            }
            catch (Exception exception) when (exception is HttpRequestException or CliException)
            {
                Console.Error.WriteLine($"obroker: the bench queue {queue} was not deleted: {exception.Message}");
            }
        }
    }

    /// <summary>C workers take request after request until the messages are out (or the token ends the warm-up).</summary>
    private static async Task PublishAsync(HttpClient http, string queue, Settings settings, List<double> latencies, CancellationToken cancellationToken)
    {
        var body = new string('x', settings.Size);
        var message = JsonSerializer.Serialize(new { body });
        byte[] Batch(int count) => Encoding.UTF8.GetBytes("[" + string.Join(',', Enumerable.Repeat(message, count)) + "]");
        var batchJson = Batch(settings.Batch);
        var single = Encoding.UTF8.GetBytes(body);
        long taken = 0, done = 0;
        var progress = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, settings.Connections).Select(async _ =>
        {
            var mine = new List<double>();
            while (!cancellationToken.IsCancellationRequested)
            {
                var start = Interlocked.Add(ref taken, settings.Batch) - settings.Batch;
                if (start >= settings.Messages)
                {
                    break;
                }

                var count = (int)Math.Min(settings.Batch, settings.Messages - start);
                var content = settings.Batch == 1
                    ? new ByteArrayContent(single) { Headers = { ContentType = new MediaTypeHeaderValue("text/plain") } }
                    : Json(count == settings.Batch ? batchJson : Batch(count));
                var sent = Stopwatch.GetTimestamp();
                try
                {
                    await SendAsync(http, HttpMethod.Post, settings.Batch == 1 ? $"/api/queues/{queue}/messages" : $"/api/queues/{queue}/messages/batch", content,
                        HttpStatusCode.Created, cancellationToken);
                }
                catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
                {
                    break;
                }

                mine.Add(Stopwatch.GetElapsedTime(sent).TotalMilliseconds);
                var total = Interlocked.Add(ref done, count);
                if (progress.Elapsed > TimeSpan.FromSeconds(5) && Monitor.TryEnter(progress))
                {
                    Console.Error.WriteLine($"published {total}");
                    progress.Restart();
                    Monitor.Exit(progress);
                }
            }

            lock (latencies)
            {
                latencies.AddRange(mine);
            }
        }));
    }

    private static async Task<string> SendAsync(HttpClient http, HttpMethod method, string path, HttpContent? content, HttpStatusCode expected, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(method, path) { Content = content };
        using var response = await http.SendAsync(request, cancellationToken);
        var text = await response.Content.ReadAsStringAsync(cancellationToken);
        return response.StatusCode == expected ? text : throw new CliException(2, $"{method} {path}: {(int)response.StatusCode} {text}");
    }

    private static ByteArrayContent Json(string text) => Json(Encoding.UTF8.GetBytes(text));

    private static ByteArrayContent Json(byte[] bytes) => new(bytes) { Headers = { ContentType = new MediaTypeHeaderValue("application/json") } };

    private static double Percentile(List<double> sorted, double p) => sorted.Count == 0 ? 0 : Math.Round(sorted[(int)Math.Min(sorted.Count - 1, p * sorted.Count)], 2);
}
