using System.CommandLine;
using System.Text;
using OrleansBroker.Client;

namespace OrleansBroker.Cli.Commands;

/// <summary><c>obroker consume QUEUE [--count N] [--timeout SECONDS] [--requeue]</c>: prints each body on its own line and acks (or requeues) it.</summary>
internal static class ConsumeCommand
{
    public static Command Create()
    {
        var queue = new Argument<string>("queue") { Description = "Queue to consume from; created with default options if missing." };
        var count = new Option<int?>("--count") { Description = "Stop (exit 0) after this many messages. Default: run until Ctrl+C." };
        var timeout = new Option<double>("--timeout") { Description = "Give up (exit 1) after this many seconds without a message. Default 30.", DefaultValueFactory = _ => 30 };
        var prefetch = new Option<int>("--prefetch") { Description = "Unacked messages in flight to this consumer. Default 100.", DefaultValueFactory = _ => ConsumerOptions.DefaultPrefetch };
        var requeue = new Option<bool>("--requeue") { Description = "Nack each message with requeue instead of acking it, to try out a queue's retries and dead-lettering." };
        var command = new Command("consume", "Receive messages by push, print each body on its own line, and ack it.") { queue, count, timeout, prefetch, requeue };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var name = parse.GetValue(queue)!;
            var wanted = parse.GetValue(count);
            var idle = TimeSpan.FromSeconds(parse.GetValue(timeout));
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
            await connection.Admin.CreateQueueIfMissingAsync(name, cancellationToken);

            var output = new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false), 1 << 16) { AutoFlush = false };
            var progress = new Progress("received", wanted ?? 0);
            var received = 0;
            var nack = parse.GetValue(requeue);
            // Acks are not awaited one by one: they travel in batches while printing goes on, and
            // prefetch bounds how many are outstanding. All are awaited before exiting.
            var acks = new List<Task>();
            using var idleTimer = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            idleTimer.CancelAfter(idle);
            try
            {
                await foreach (var delivery in broker.ReadAllAsync(name, new ConsumerOptions { Prefetch = parse.GetValue(prefetch) }, idleTimer.Token))
                {
                    idleTimer.CancelAfter(idle);
                    await output.WriteLineAsync(delivery.BodyText());
                    acks.Add(nack ? broker.AbandonAsync(delivery, cancellationToken: CancellationToken.None) : broker.CompleteAsync(delivery, CancellationToken.None));
                    if (acks.Count >= 1024)
                    {
                        acks.RemoveAll(a => a.IsCompletedSuccessfully);
                    }

                    received++;
                    progress.Report(received);
                    if (received == wanted)
                    {
                        // Before leaving the stream: leaving unsubscribes, which requeues whatever is not acked yet.
                        await Task.WhenAll(acks);
                        break;
                    }
                }
            }
            catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
            {
                await output.FlushAsync(CancellationToken.None);
                throw new CliException(1, $"timed out: no message for {idle.TotalSeconds:F0} s after {received} received{(wanted is { } w ? $" of {w}" : "")}");
            }
            finally
            {
                await output.FlushAsync(CancellationToken.None);
                await Task.WhenAll(acks);
            }

            Console.Error.WriteLine($"received and {(nack ? "requeued" : "acked")} {received} messages from {name} in {progress.Elapsed.TotalSeconds:F2} s");
            return 0;
        });
        return command;
    }
}
