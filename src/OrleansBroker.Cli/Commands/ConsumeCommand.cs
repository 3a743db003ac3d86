using System.CommandLine;
using System.Text;
using System.Text.Json;
using OrleansBroker.Client;
using OrleansBroker.Messages;

namespace OrleansBroker.Cli.Commands;

/// <summary>
/// <c>obroker consume QUEUE [--count N | --until-empty] [--timeout SECONDS] [--requeue] [--output text|json]</c>: prints each
/// message as it comes and acks (or requeues) it. The queue must exist: a mistyped name is an error, not a new queue.
/// </summary>
internal static class ConsumeCommand
{
    /// <summary>How long <c>--until-empty</c> waits with nothing arriving before it asks the queue whether anything is ready.</summary>
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(1);

    public static Command Create()
    {
        var queue = new Argument<string>("queue") { Description = "Queue to consume from (a topic subscription is the queue <topic>/<subscription>); it must exist." };
        var count = new Option<int?>("--count") { Description = "Stop (exit 0) after this many messages. Default: run until Ctrl+C." };
        var untilEmpty = new Option<bool>("--until-empty") { Description = "Stop (exit 0) once nothing is ready in the queue: drain it and leave." };
        var timeout = new Option<double>("--timeout") { Description = "Give up (exit 1) after this many seconds without a message. Default 30.", DefaultValueFactory = _ => 30 };
        var prefetch = new Option<int>("--prefetch") { Description = "Unacked messages in flight to this consumer. Default 100.", DefaultValueFactory = _ => ConsumerOptions.DefaultPrefetch };
        var requeue = new Option<bool>("--requeue") { Description = "Nack each message with requeue instead of acking it, to try out a queue's retries and dead-lettering." };
        var output = new Option<string>("--output")
        {
            Description = "text: each body on its own line (default). json: one JSON object a line with id, sequence, attempt, headers, routing key, content type, enqueued time and body (text, or base64 when it is not UTF-8).",
            DefaultValueFactory = _ => "text",
        };
        output.AcceptOnlyFromAmong("text", "json");
        var command = new Command("consume", "Receive messages by push, print each as it comes, and ack it.") { queue, count, untilEmpty, timeout, prefetch, requeue, output };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var name = parse.GetValue(queue)!;
            var wanted = parse.GetValue(count);
            var drain = parse.GetValue(untilEmpty);
            var idle = TimeSpan.FromSeconds(parse.GetValue(timeout));
            var json = parse.GetValue(output) == "json";
            if (wanted is < 1)
            {
                throw new CliException(2, "--count must be at least 1");
            }

            if (idle <= TimeSpan.Zero)
            {
                throw new CliException(2, "--timeout must be more than 0");
            }

            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            var broker = connection.Broker;
            await connection.Admin.GetQueueInfoAsync(name, cancellationToken); // QueueNotFound (exit 2) before anything else

            var stdout = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 1 << 16) { AutoFlush = false };
            var progress = new Progress("received", wanted ?? 0);
            var received = 0;
            var nack = parse.GetValue(requeue);

            // Acks are not awaited one by one: they travel in batches while printing goes on, and prefetch bounds how many
            // are outstanding. All are awaited before leaving the stream, which gives back whatever is not settled.
            var acks = new List<Task>();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var deliveries = broker.ReadAllAsync(name, new ConsumerOptions { Prefetch = parse.GetValue(prefetch) }, stop.Token).GetAsyncEnumerator(stop.Token);
            var next = deliveries.MoveNextAsync().AsTask();
            var lastMessage = progress.Elapsed;
            try
            {
                while (true)
                {
                    if (!next.IsCompleted && !await ArrivesWithinAsync(next, drain ? Quiet : idle, cancellationToken))
                    {
                        cancellationToken.ThrowIfCancellationRequested();
                        if (drain && (await connection.Admin.GetQueueInfoAsync(name, cancellationToken)).Ready == 0)
                        {
                            break;
                        }

                        if (progress.Elapsed - lastMessage >= idle)
                        {
                            throw new CliException(1, $"timed out: no message for {idle.TotalSeconds:F0} s after {received} received{(wanted is { } w ? $" of {w}" : "")}");
                        }

                        continue;
                    }

                    if (!await next)
                    {
                        break;
                    }

                    var delivery = deliveries.Current;
                    lastMessage = progress.Elapsed;
                    await stdout.WriteLineAsync(json ? ToJson(delivery) : delivery.BodyText());
                    await stdout.FlushAsync(CancellationToken.None); // each line as it comes, also into a pipe
                    acks.Add(nack ? broker.AbandonAsync(delivery, cancellationToken: CancellationToken.None) : broker.CompleteAsync(delivery, CancellationToken.None));
                    if (acks.Count >= 1024)
                    {
                        acks.RemoveAll(a => a.IsCompletedSuccessfully);
                    }

                    received++;
                    progress.Report(received);
                    if (received == wanted)
                    {
                        break;
                    }

                    next = deliveries.MoveNextAsync().AsTask();
                }

                await Task.WhenAll(acks);
            }
            finally
            {
                await stdout.FlushAsync(CancellationToken.None);
                await stop.CancelAsync();
                await Task.WhenAll(acks).ContinueWith(_ => { }, TaskScheduler.Default);
                try
                {
                    await next;
                }
                catch (OperationCanceledException)
                {
                    // The wait for the next delivery, ended on the way out.
                }

                await deliveries.DisposeAsync();
            }

            Console.Error.WriteLine($"received and {(nack ? "requeued" : "acked")} {received} messages from {name} in {progress.Elapsed.TotalSeconds:F2} s");
            return 0;
        });
        return command;
    }

    /// <summary>Whether <paramref name="next"/> completes within <paramref name="wait"/>; the timer is dropped as soon as it does.</summary>
    private static async Task<bool> ArrivesWithinAsync(Task next, TimeSpan wait, CancellationToken cancellationToken)
    {
        using var timer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var elapsed = Task.Delay(wait, timer.Token);
        var first = await Task.WhenAny(next, elapsed);
        await timer.CancelAsync();
        return first == next;
    }

    /// <summary>One delivery as one line of JSON, as <c>nats sub</c> shows headers with the body.</summary>
    private static string ToJson(Delivery delivery)
    {
        string? text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(delivery.Body);
        }
        catch (DecoderFallbackException)
        {
            text = null;
        }

        var line = new Dictionary<string, object?>
        {
            ["id"] = delivery.MessageId,
            ["sequence"] = delivery.Sequence,
            ["attempt"] = delivery.Attempt,
            ["queue"] = delivery.Queue,
            ["enqueued_at"] = delivery.EnqueuedAt,
            ["content_type"] = delivery.ContentType,
            ["routing_key"] = delivery.RoutingKey,
            ["ordering_key"] = delivery.OrderingKey,
            ["priority"] = delivery.Priority,
            ["headers"] = delivery.Headers ?? new Dictionary<string, string>(),
        };
        if (text is not null)
        {
            line["body"] = text;
        }
        else
        {
            line["body_base64"] = Convert.ToBase64String(delivery.Body);
        }

        return JsonSerializer.Serialize(line);
    }
}
