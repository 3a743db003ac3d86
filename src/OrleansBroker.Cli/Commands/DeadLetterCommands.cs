using System.CommandLine;
using OrleansBroker.Client;
using OrleansBroker.Queues;

namespace OrleansBroker.Cli.Commands;

/// <summary><c>obroker dlq peek|redrive|purge &lt;queue&gt;</c>: the dead-letter queue of a queue, found from its options.</summary>
internal static class DeadLetterCommands
{
    public static Command Create()
    {
        var dlq = new Command("dlq", "Browse, redrive and purge the dead-letter queue of a queue.");
        dlq.Subcommands.Add(PeekCommand());
        dlq.Subcommands.Add(RedriveCommand());
        dlq.Subcommands.Add(PurgeCommand());
        return dlq;
    }

    private static Argument<string> QueueArgument() => new("queue") { Description = "The queue whose dead letters to work on (not the dead-letter queue itself)." };

    private static Command PeekCommand() =>
        Commands.PeekCommand.Create("Show dead letters without consuming them: sequence, id, attempts, reason, body.", QueueArgument(),
            (connection, queue, cancellationToken) => ResolveAsync(connection.Admin, queue, cancellationToken));

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
}
