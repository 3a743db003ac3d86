using System.CommandLine;
using System.Globalization;
using OrleansBroker.Cli.Bench;
using OrleansBroker.Queues;

namespace OrleansBroker.Cli.Commands;

/// <summary>
/// <c>obroker bench queue|fanout|latency|depth|recovery|http|mqtt|amqp</c>: load against a running broker, like <c>nats bench</c>.
/// One JSON line per run on stdout, progress on stderr; exit 1 when a run lost messages or stopped progressing.
/// </summary>
internal static class BenchCommand
{
    private static readonly Option<long> Messages = new("--messages") { Description = "Messages per run. Default 100000.", DefaultValueFactory = _ => 100_000 };
    private static readonly Option<int> Size = new("--size") { Description = $"Body bytes, {BenchPayload.HeaderBytes} or more (sequence and send time come first). Default 1024.", DefaultValueFactory = _ => 1024 };
    private static readonly Option<int> Producers = new("--producers") { Description = "Concurrent producers, 1 to 64. Default 1.", DefaultValueFactory = _ => 1 };
    private static readonly Option<int> Consumers = new("--consumers") { Description = "Concurrent consumers, 0 to 64 (0: publish only). Default 1.", DefaultValueFactory = _ => 1 };
    private static readonly Option<int> Batch = new("--batch") { Description = "Messages per publish call, 1 to 1000. Default 100.", DefaultValueFactory = _ => 100 };
    private static readonly Option<int> Inflight = new("--inflight") { Description = "Publish calls per producer awaiting confirmation, 1 to 1000. Default 4.", DefaultValueFactory = _ => 4 };
    private static readonly Option<int> Prefetch = new("--prefetch") { Description = "Unacked deliveries per consumer, 1 to 10000. Default 500.", DefaultValueFactory = _ => 500 };
    private static readonly Option<string?> Queue = new("--queue") { Description = "Queue to use (purged first). Default: a new bench-<id> queue, deleted afterwards." };
    private static readonly Option<double> Timeout = new("--timeout") { Description = "Stop a run with no progress for this many seconds. Default 30.", DefaultValueFactory = _ => 30 };
    private static readonly Option<int> Partitions = new("--partitions") { Description = "Partitions of the bench queue when the bench creates it, 1 to 64. Default 1.", DefaultValueFactory = _ => 1 };
    private static readonly Option<bool> Handler = new("--handler")
    {
        Description = "Consumers use the handler API (ConsumeAsync, one handler at a time, acked on return) instead of reading deliveries and acking without waiting.",
    };

    private static readonly Option<bool> RetryPublishes = new("--retry-publishes")
    {
        Description = "Try a failed publish again (same message ids, so the queue deduplicates) until it is confirmed, as a producer would through a silo failure. Default off: an error ends the run.",
    };
    private static readonly Option<double?> Warmup = new("--warmup")
    {
        Description = "Seconds of the same load first, on the same queue, not measured (its losses still count): a fresh bench process "
            + "and newly used broker code paths run slowly until the JIT has optimized them. Default 5 for latency, 0 for queue.",
    };
    private static readonly Option<bool> Trace = new("--trace")
    {
        Description = "Record every span the client makes (send and process, as a tracer would; none are exported), to measure what tracing costs. Default off.",
    };

    private static readonly Option<int?> BrokerPid = new("--broker-pid") { Description = "PID of the silo on this machine: its RSS goes in the result (Linux)." };

    public static Command Create()
    {
        var bench = new Command("bench", "Measure the broker: throughput, latency, depth, many queues and recovery. One JSON line per run on stdout.");
        bench.Subcommands.Add(QueueBench());
        bench.Subcommands.Add(FanOutBench());
        bench.Subcommands.Add(LatencyBench());
        bench.Subcommands.Add(DepthBench());
        bench.Subcommands.Add(ManyQueuesBench());
        bench.Subcommands.Add(RecoveryBench());
        bench.Subcommands.Add(HttpBenchCommand.Create());
        bench.Subcommands.Add(MqttBenchCommand.Create());
        bench.Subcommands.Add(AmqpBenchCommand.Create());
        bench.Subcommands.Add(PushBenchCommand.Create());
        return bench;
    }

    private static Command QueueBench()
    {
        var command = new Command("queue", "P producers publish N messages (durable, confirmed) while C consumers receive and ack each.")
        {
            Messages, Size, Producers, Consumers, Batch, Inflight, Prefetch, Queue, Timeout, BrokerPid, Partitions, RetryPublishes, Handler, Warmup, Trace,
        };
        command.SetAction((parse, cancellationToken) => RunAsync(parse, async (connection, settings) =>
        {
            // Warm-up rounds: short runs of the same shape, each a few hundred calls.
            var round = Math.Min(settings.Messages, Math.Max(1_000, 200L * settings.Batch * settings.Producers));
            var result = await WithWarmupAsync(WarmupSeconds(parse, 0), round, s => Scenarios.QueueAsync(connection.Broker, connection.Admin, s, cancellationToken), settings);
            Console.WriteLine(result.ToJson());
            return [result];
        }, cancellationToken));
        return command;
    }

    private static Command FanOutBench()
    {
        var subscriptions = new Option<int>("--subscriptions") { Description = "Subscriptions of the topic, each taking every message, 1 to 64. Default 4.", DefaultValueFactory = _ => 4 };
        var command = new Command("fanout", "P producers publish N messages to a topic with S subscriptions, one consumer each (--consumers per subscription); throughput counts deliveries.")
        {
            subscriptions, Messages, Size, Producers, Consumers, Batch, Inflight, Prefetch, Queue, Timeout, BrokerPid,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var count = parse.GetValue(subscriptions);
            if (count is < 1 or > 64)
            {
                throw new CliException(2, "--subscriptions must be 1 to 64");
            }

            return RunAsync(parse, async (connection, settings) =>
            {
                try
                {
                    var result = await Scenarios.FanOutAsync(connection.Broker, connection.Admin, settings, count, cancellationToken);
                    Console.WriteLine(result.ToJson());
                    return [result];
                }
                finally
                {
                    if (parse.GetValue(Queue) is null)
                    {
                        await connection.Admin.DeleteTopicAsync(settings.Queue, CancellationToken.None);
                    }
                }
            }, cancellationToken);
        });
        return command;
    }

    private static Command LatencyBench()
    {
        var rate = new Option<double>("--rate") { Description = "Messages per second, sent one per call. Default 2000.", DefaultValueFactory = _ => 2000 };
        var duration = new Option<double>("--duration") { Description = "Seconds to send for. Default 30.", DefaultValueFactory = _ => 30 };
        var command = new Command("latency", "Publish single messages at a fixed rate; report publish-to-delivery latency percentiles.")
        {
            rate, duration, Size, Consumers, Prefetch, Queue, Timeout, BrokerPid, Warmup,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var perSecond = parse.GetValue(rate);
            var seconds = parse.GetValue(duration);
            if (perSecond is <= 0 or > 1_000_000 || seconds is <= 0 or > 3600)
            {
                throw new CliException(2, "--rate must be above 0 and at most 1000000, --duration above 0 and at most 3600");
            }

            return RunAsync(parse, async (connection, settings) =>
            {
                // One warm-up round as long as the warm-up.
                var warmup = WarmupSeconds(parse, 5);
                var result = await WithWarmupAsync(
                    warmup, (long)Math.Ceiling(perSecond * warmup), s => Scenarios.LatencyAsync(connection.Broker, connection.Admin, s, perSecond, cancellationToken), settings);
                Console.WriteLine(result.ToJson());
                return [result];
            }, cancellationToken, (long)Math.Ceiling(perSecond * seconds));
        });
        return command;
    }

    private static Command DepthBench()
    {
        var depths = new Option<string>("--depths") { Description = "Queue depths to measure at, comma-separated. Default 0,100000,1000000.", DefaultValueFactory = _ => "0,100000,1000000" };
        var command = new Command("depth", "Publish rate into a queue already holding each of --depths messages (nothing consumed).")
        {
            depths, Messages, Size, Producers, Batch, Inflight, Queue, Timeout, BrokerPid,
        };
        command.SetAction((parse, cancellationToken) =>
        {
            var levels = ParseDepths(parse.GetValue(depths)!);
            return RunAsync(parse, async (connection, settings) =>
                await Scenarios.DepthAsync(connection.Broker, connection.Admin, settings, levels, r => Console.WriteLine(r.ToJson()), cancellationToken), cancellationToken);
        });
        return command;
    }

    private static Command ManyQueuesBench()
    {
        var queues = new Option<int>("--queues") { Description = "Queues to create. Default 10000.", DefaultValueFactory = _ => 10_000 };
        var each = new Option<int>("--each") { Description = "Messages published to each queue in one call, then received and acked; 0 leaves the queues empty. Default 10.", DefaultValueFactory = _ => 10 };
        var concurrency = new Option<int>("--concurrency") { Description = "Calls (creates, publishes, receives, deletes) in flight at once. Default 64.", DefaultValueFactory = _ => 64 };
        var keep = new Option<bool>("--keep") { Description = "Leave the queues when done (to watch them idle). Default: they are deleted." };
        var name = new Option<string?>("--name") { Description = "The queues are NAME-0 to NAME-(Q-1). Default: bench-<id>." };
        var existing = new Option<bool>("--existing") { Description = "The queues exist already (kept by an earlier run with the same --name): they are not created; publishing to them brings back those the broker deactivated." };
        var command = new Command("queues", "Many queues: create Q queues, publish M messages to each, list them, receive and ack every message, delete them; the rate of each step and the broker's memory.")
        {
            queues, each, concurrency, keep, name, existing, Size, Timeout, BrokerPid,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var (count, perQueue, calls) = (parse.GetValue(queues), parse.GetValue(each), parse.GetValue(concurrency));
            Check(count is >= 1 and <= 1_000_000, "--queues must be 1 to 1000000");
            Check(perQueue >= 0 && perQueue <= BrokerLimits.MaxBatchCount, $"--each must be 0 to {BrokerLimits.MaxBatchCount}");
            Check(calls is >= 1 and <= 1024, "--concurrency must be 1 to 1024");
            Check(!parse.GetValue(existing) || parse.GetValue(name) is not null, "--existing needs the --name of the queues");
            var settings = Settings(parse, Math.Max(1, (long)count * perQueue));
            settings = parse.GetValue(name) is { } prefix ? settings with { Queue = prefix } : settings;
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            var result = await Scenarios.ManyQueuesAsync(connection.Broker, connection.Admin, settings, count, perQueue, calls, parse.GetValue(keep), parse.GetValue(existing), cancellationToken);
            Console.WriteLine(result.ToJson());
            return ExitCode([result]);
        });
        return command;
    }

    private static Command RecoveryBench()
    {
        var silo = new Argument<string[]>("silo-command")
        {
            Description = "After --: the command that starts the silo, e.g. -- dotnet silo-host/bin/Release/net10.0/obroker-silo.dll --data-dir /tmp/bench. Its gateway must be the one --gateway names.",
            Arity = ArgumentArity.OneOrMore,
        };
        var command = new Command("recovery", "Start the silo, store N messages, kill it (SIGKILL), start it again: time to first delivery and to all acked.")
        {
            silo, Messages, Size, Consumers, Prefetch, Queue, Timeout,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var settings = Settings(parse);
            var result = await Scenarios.RecoveryAsync(ct => GlobalOptions.ConnectAsync(parse, ct), parse.GetValue(silo)!, settings, cancellationToken);
            Console.WriteLine(result.ToJson());
            return ExitCode([result]);
        });
        return command;
    }

    private static async Task<int> RunAsync(ParseResult parse, Func<BrokerConnection, BenchSettings, Task<IReadOnlyList<BenchResult>>> run, CancellationToken cancellationToken, long? messages = null)
    {
        var settings = Settings(parse, messages);
        long spans = 0;
        using var tracer = parse.GetResult(Trace) is not null && parse.GetValue(Trace) ? new System.Diagnostics.ActivityListener
        {
            ShouldListenTo = source => source.Name == BrokerTelemetry.ActivitySourceName,
            Sample = (ref _) => System.Diagnostics.ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = _ => Interlocked.Increment(ref spans),
        } : null;
        if (tracer is not null)
        {
            System.Diagnostics.ActivitySource.AddActivityListener(tracer);
        }

        await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
        try
        {
            return ExitCode(await run(connection, settings));
        }
        finally
        {
            if (tracer is not null)
            {
                Console.Error.WriteLine($"spans recorded: {Interlocked.Read(ref spans)}");
            }

            if (parse.GetValue(Queue) is null)
            {
                await DeleteBenchQueueAsync(connection, settings.Queue);
            }
        }
    }

    /// <summary><c>--warmup</c>, or <paramref name="defaultSeconds"/> where it is not given.</summary>
    private static double WarmupSeconds(ParseResult parse, double defaultSeconds) => Get(parse, Warmup, null) ?? defaultSeconds;

    /// <summary>
    /// Runs <paramref name="run"/> unmeasured in rounds of <paramref name="round"/> messages for <paramref name="seconds"/>,
    /// then once as set. Messages lost in the warm-up are added to the result's.
    /// </summary>
    private static async Task<BenchResult> WithWarmupAsync(double seconds, long round, Func<BenchSettings, Task<BenchResult>> run, BenchSettings settings)
    {
        long lost = 0;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        while (clock.Elapsed.TotalSeconds < seconds)
        {
            Console.Error.WriteLine($"warm-up: {clock.Elapsed.TotalSeconds:F0}/{seconds:F0} s, not measured");
            lost += (await run(settings with { Messages = Math.Max(1, round) })).Lost;
        }

        var result = await run(settings);
        return result with { Lost = result.Lost + lost, WarmupS = seconds > 0 ? seconds : null };
    }

    private static async Task DeleteBenchQueueAsync(BrokerConnection connection, string queue)
    {
        try
        {
            await connection.Admin.DeleteQueueAsync(queue, CancellationToken.None);
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // The run's own outcome (or error) is what matters; say what is left behind.
            Console.Error.WriteLine($"obroker: the bench queue {queue} was not deleted: {exception.GetBaseException().Message}");
        }
    }

    private static int ExitCode(IReadOnlyList<BenchResult> results)
    {
        var lost = results.Sum(r => r.Lost);
        if (lost > 0)
        {
            Console.Error.WriteLine($"obroker: bench lost {lost} messages");
            return 1;
        }

        return 0;
    }

    /// <summary>
    /// The settings of this command line; options a scenario does not take keep the <see cref="BenchSettings"/>
    /// defaults, and <paramref name="messages"/> overrides the count where the scenario derives it (latency: rate times duration).
    /// </summary>
    private static BenchSettings Settings(ParseResult parse, long? messages = null)
    {
        var defaults = new BenchSettings { Queue = $"bench-{Guid.NewGuid():N}"[..14], Messages = messages ?? Get(parse, Messages, 0), Size = Get(parse, Size, 0) };
        var settings = defaults with
        {
            Queue = Get(parse, Queue, null) ?? defaults.Queue,
            Producers = Get(parse, Producers, defaults.Producers),
            Consumers = Get(parse, Consumers, defaults.Consumers),
            Batch = Get(parse, Batch, defaults.Batch),
            Inflight = Get(parse, Inflight, defaults.Inflight),
            Prefetch = Get(parse, Prefetch, defaults.Prefetch),
            IdleTimeout = TimeSpan.FromSeconds(Get(parse, Timeout, defaults.IdleTimeout.TotalSeconds)),
            BrokerPid = Get(parse, BrokerPid, null),
            Partitions = Get(parse, Partitions, defaults.Partitions),
            RetryPublishes = Get(parse, RetryPublishes, defaults.RetryPublishes),
            Handler = Get(parse, Handler, defaults.Handler),
        };
        Check(settings.Messages is >= 1 and <= 100_000_000, "--messages must be 1 to 100000000");
        Check(settings.Size >= BenchPayload.HeaderBytes && settings.Size <= BrokerLimits.AbsoluteMaxMessageBytes, $"--size must be {BenchPayload.HeaderBytes} to {BrokerLimits.AbsoluteMaxMessageBytes}");
        Check(settings.Producers is >= 1 and <= 64, "--producers must be 1 to 64");
        Check(settings.Consumers is >= 0 and <= 64, "--consumers must be 0 to 64");
        Check(settings.Batch >= 1 && settings.Batch <= BrokerLimits.MaxBatchCount, $"--batch must be 1 to {BrokerLimits.MaxBatchCount}");
        Check(settings.Inflight is >= 1 and <= 1000, "--inflight must be 1 to 1000");
        Check(settings.Prefetch >= 1 && settings.Prefetch <= BrokerLimits.MaxPrefetch, $"--prefetch must be 1 to {BrokerLimits.MaxPrefetch}");
        Check(settings.IdleTimeout > TimeSpan.Zero, "--timeout must be more than 0");
        Check(settings.Partitions is >= 1 and <= QueueOptions.MaxPartitions, $"--partitions must be 1 to {QueueOptions.MaxPartitions}");
        Check(Get(parse, Warmup, null) is null or (>= 0 and <= 600), "--warmup must be 0 to 600 seconds");
        return settings;
    }

    private static T Get<T>(ParseResult parse, Option<T> option, T absent) => parse.GetResult(option) is null ? absent : parse.GetValue(option)!;

    private static long[] ParseDepths(string text)
    {
        var depths = new List<long>();
        foreach (var part in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            Check(long.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out var depth) && depth <= 100_000_000, $"--depths: '{part}' is not a depth 0 to 100000000");
            depths.Add(depth);
        }

        Check(depths.Count > 0, "--depths needs at least one depth");
        return [.. depths];
    }

    private static void Check(bool ok, string message)
    {
        if (!ok)
        {
            throw new CliException(2, message);
        }
    }
}
