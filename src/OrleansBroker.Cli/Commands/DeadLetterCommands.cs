using System.CommandLine;
using System.Text;
using OrleansBroker.Client;
using OrleansBroker.Messages;
using OrleansBroker.Queues;

namespace OrleansBroker.Cli.Commands;

/// <summary><c>obroker dlq peek|redrive|purge &lt;queue&gt;</c>: the dead-letter queue of a queue, found from its options.</summary>
internal static class DeadLetterCommands
{
    private const int BodyPreviewChars = 60;

    public static Command Create()
    {
        var dlq = new Command("dlq", "Browse, redrive and purge the dead-letter queue of a queue.");
        dlq.Subcommands.Add(PeekCommand());
        dlq.Subcommands.Add(RedriveCommand());
        dlq.Subcommands.Add(PurgeCommand());
        return dlq;
    }

    private static Argument<string> QueueArgument() => new("queue") { Description = "The queue whose dead letters to work on (not the dead-letter queue itself)." };

    private static Command PeekCommand()
    {
        var queue = QueueArgument();
        var max = new Option<int>("--max") { Description = "Messages to show, 1 to 1000.", DefaultValueFactory = _ => 20 };
        var after = new Option<long>("--after") { Description = "Show messages after this sequence (the last one a previous peek showed).", DefaultValueFactory = _ => 0 };
        var command = new Command("peek", "Show dead letters without consuming them: sequence, id, attempts, reason, body.") { queue, max, after };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            var name = await ResolveAsync(connection.Admin, parse.GetValue(queue)!, cancellationToken);
            var messages = await connection.Broker.PeekAsync(name, parse.GetValue(after), parse.GetValue(max), cancellationToken);
            Console.WriteLine($"{"SEQ",8}  {"ID",-34} {"ATTEMPTS",8}  {"STATE",-8} {"REASON",-32} BODY");
            foreach (var message in messages)
            {
                var headers = message.Headers ?? new Dictionary<string, string>();
                var attempts = headers.GetValueOrDefault(BrokerHeaders.Attempts, message.Attempts.ToString(System.Globalization.CultureInfo.InvariantCulture));
                var reason = headers.GetValueOrDefault(BrokerHeaders.DeadLetterReason, "");
                Console.WriteLine($"{message.Sequence,8}  {message.MessageId,-34} {attempts,8}  {message.State,-8} {reason,-32} {Preview(message.Body)}");
            }

            Console.WriteLine($"{messages.Count} messages shown from {name}" + (messages.Count == parse.GetValue(max) ? $"; more with --after {messages[^1].Sequence}" : ""));
            return 0;
        });
        return command;
    }

    private static Command RedriveCommand()
    {
        var queue = QueueArgument();
        var max = new Option<int?>("--max") { Description = "Move at most this many (oldest first). Default: all." };
        var ids = new Option<string[]>("--id") { Description = "Move only the message with this id; repeat for several.", AllowMultipleArgumentsPerToken = true };
        var command = new Command("redrive", "Send dead letters back to the queue they came from; their attempts start again.") { queue, max, ids };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            var name = await ResolveAsync(connection.Admin, parse.GetValue(queue)!, cancellationToken);
            var selected = parse.GetValue(ids) is { Length: > 0 } chosen ? chosen : null;
            var result = await connection.Admin.RedriveAsync(name, new RedriveRequest(parse.GetValue(max), selected), cancellationToken);
            Console.WriteLine($"redrove {result.Moved} messages from {name}" + (result.Skipped > 0 ? $"; {result.Skipped} skipped (no source queue)" : ""));
            return 0;
        });
        return command;
    }

    private static Command PurgeCommand()
    {
        var queue = QueueArgument();
        var command = new Command("purge", "Remove every dead letter not held by a consumer.") { queue };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            var name = await ResolveAsync(connection.Admin, parse.GetValue(queue)!, cancellationToken);
            Console.WriteLine($"purged {await connection.Admin.PurgeQueueAsync(name, cancellationToken)} messages from {name}");
            return 0;
        });
        return command;
    }

    /// <summary>The dead-letter queue of <paramref name="queue"/>, which must exist (it is created with the first dead letter).</summary>
    private static async Task<string> ResolveAsync(IBrokerAdministrationClient admin, string queue, CancellationToken cancellationToken)
    {
        var info = await admin.GetQueueInfoAsync(queue, cancellationToken);
        var dlq = info.Options.ResolveDeadLetterQueue(queue)
            ?? throw new CliException(2, $"queue '{queue}' has no dead-letter queue (created with max attempts 0 and none).");
        if (!(await admin.ListQueuesAsync(cancellationToken)).Contains(dlq, StringComparer.Ordinal))
        {
            throw new CliException(2, $"queue '{queue}' has no dead letters yet: its dead-letter queue '{dlq}' is created with the first one.");
        }

        return dlq;
    }

    private static string Preview(byte[] body)
    {
        var text = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, BodyPreviewChars * 4));
        var printable = new string([.. text.Take(BodyPreviewChars).Select(c => char.IsControl(c) ? '.' : c)]);
        return body.Length > BodyPreviewChars ? printable + "…" : printable;
    }
}
