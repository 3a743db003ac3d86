using System.CommandLine;
using OrleansBroker.Queues;

namespace OrleansBroker.Cli.Commands;

/// <summary><c>obroker queue create|info|list|grow|push|peek|purge|delete</c>.</summary>
internal static class QueueCommands
{
    public static Command Create()
    {
        var queue = new Command("queue", "Create, inspect, list, purge and delete queues.");
        queue.Subcommands.Add(CreateCommand());
        queue.Subcommands.Add(GrowCommand());
        queue.Subcommands.Add(PushCommand());
        queue.Subcommands.Add(PeekCommand.Create("Show messages of any queue without consuming them: sequence, id, attempts, state, key, body.",
            new Argument<string>("name") { Description = "Queue name (a partition as name~N, a subscription as topic/subscription)." },
            async (connection, name, cancellationToken) =>
            {
                await connection.Admin.GetQueueInfoAsync(name, cancellationToken); // QueueNotFound rather than an empty list
                return name;
            }));
        queue.Subcommands.Add(Simple("info", "Show depth, consumers, counters and options.", async (admin, name, ct) => Print(await admin.GetQueueInfoAsync(name, ct))));
        queue.Subcommands.Add(Simple("purge", "Remove every ready message (not those in flight).", async (admin, name, ct) =>
            Console.WriteLine($"purged {await admin.PurgeQueueAsync(name, ct)} messages from {name}")));
        queue.Subcommands.Add(Simple("delete", "Delete the queue and all its messages.", async (admin, name, ct) =>
        {
            await admin.DeleteQueueAsync(name, ct);
            Console.WriteLine($"deleted {name}");
        }));

        var list = new Command("list", "List queues with their depth.");
        list.SetAction(async (parse, cancellationToken) =>
        {
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            // Queues not in memory are listed from what they stored, not loaded (IN-MEMORY no).
            var names = await connection.Admin.ListQueuesAsync(cancellationToken);
            Console.WriteLine($"{"QUEUE",-40} {"READY",10} {"IN-FLIGHT",10} {"CONSUMERS",10} {"IN-MEMORY",10}");
            foreach (var info in await connection.Admin.GetQueueInfosAsync(names, cancellationToken))
            {
                Console.WriteLine($"{info.Name,-40} {info.Ready,10} {info.InFlight,10} {info.Consumers,10} {(info.InMemory ? "yes" : "no"),10}");
            }

            return 0;
        });
        queue.Subcommands.Add(list);
        return queue;
    }

    private static Command CreateCommand()
    {
        var name = new Argument<string>("name") { Description = "Queue name: letters, digits, '.', '-', '_'; at most 200 characters." };
        var options = new QueueOptionsBinder();
        var command = new Command("create", "Create a queue (no-op if it exists with the same options).") { name };
        options.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var queueOptions = options.Bind(parse);
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            Print(await connection.Admin.CreateQueueAsync(parse.GetValue(name)!, queueOptions, cancellationToken));
            options.ShowMadeSecret();
            return 0;
        });
        return command;
    }

    private static Command PushCommand()
    {
        var name = new Argument<string>("name") { Description = "Queue name." };
        var push = new PushOptionsBinder();
        var off = new Option<bool>("--off") { Description = "Stop pushing: the messages stay in the queue for consumers." };
        var command = new Command("push", "Replace a queue's push endpoint, keeping its messages (to rotate a secret: give the old and the new --push-secret, then the new alone), or --off.")
        {
            name, off,
        };
        push.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var endpoint = PushOrOff(parse, push, off);
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            Print(await connection.Admin.SetQueuePushAsync(parse.GetValue(name)!, endpoint, cancellationToken));
            push.ShowMadeSecret();
            return 0;
        });
        return command;
    }

    /// <summary>The endpoint the push options give, or null with <c>--off</c>; one of them is needed.</summary>
    internal static PushEndpoint? PushOrOff(ParseResult parse, PushOptionsBinder push, Option<bool> off)
    {
        var endpoint = push.Bind(parse);
        return (endpoint, parse.GetValue(off)) switch
        {
            (null, false) => throw new CliException(2, "give --push-url (with its other --push-* options) or --off"),
            (not null, true) => throw new CliException(2, "--off takes no --push-url"),
            _ => endpoint,
        };
    }

    private static Command GrowCommand()
    {
        var name = new Argument<string>("name") { Description = "Queue name." };
        var partitions = new Option<int>("--partitions")
        {
            Description = "The new partition count: a multiple of the current one, up to 64. Keyed order is kept: the new partitions hold keyed messages until their old partition has settled those keys.",
            Required = true,
        };
        var command = new Command("grow", "Grow a queue to more partitions, in place (idempotent; run it again to finish a growth cut short).") { name, partitions };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            Print(await connection.Admin.GrowPartitionsAsync(parse.GetValue(name)!, parse.GetValue(partitions), cancellationToken));
            return 0;
        });
        return command;
    }

    private static Command Simple(string verb, string description, Func<Client.IBrokerAdministrationClient, string, CancellationToken, Task> run) =>
        NamedCommand.Create(verb, description, "name", "Queue name.", run);

    private static string Describe(RetryPolicy retry) => retry.Kind switch
    {
        RetryKind.Fixed => $"fixed {retry.InitialDelay.TotalSeconds:0.###} s",
        RetryKind.Exponential => $"exponential from {retry.InitialDelay.TotalSeconds:0.###} s ×{retry.Multiplier:0.##} up to {retry.MaxDelay.TotalSeconds:0.###} s"
            + (retry.Jitter > 0 ? $", jitter {retry.Jitter:0.##}" : ""),
        _ => "immediate",
    };

    internal static void Print(QueueInfo info)
    {
        var o = info.Options;
        Console.WriteLine($"""
            queue:          {info.Name}
            ready:          {info.Ready} ({info.Delayed} waiting for a retry or scheduled time)
            in flight:      {info.InFlight}
            bytes:          {info.Bytes}
            consumers:      {info.Consumers}
            lease:          {o.LeaseDuration.TotalSeconds:F0} s
            max attempts:   {(o.MaxDeliveryAttempts == 0 ? "unlimited" : o.MaxDeliveryAttempts)}
            retry:          {Describe(o.Retry)}
            dead letters:   {o.ResolveDeadLetterQueue(info.Name) ?? "(none)"}
            time to live:   {(o.DefaultTimeToLive is { } ttl ? $"{ttl}" : "none")}{(o.DeadLetterExpired ? ", expired go to the dead-letter queue" : "")}
            dedup window:   {(o.DeduplicationWindow == TimeSpan.Zero ? "off" : o.DeduplicationWindow)}
            limits:         {(o.HasLengthLimit ? $"{o.MaxLength?.ToString() ?? "-"} messages, {o.MaxBytes?.ToString() ?? "-"} bytes, overflow {NamedValues.Kebab(o.Overflow)}" : "none")}
            created:        {info.CreatedAt:u}
            published:      {info.Counters.Published}
            delivered:      {info.Counters.Delivered} ({info.Counters.Redelivered} redelivered)
            acked:          {info.Counters.Acked}
            dead-lettered:  {info.Counters.DeadLettered}
            purged:         {info.Counters.Purged}
            expired:        {info.Counters.Expired}
            dropped (full): {info.Counters.Dropped}
            partitions:     {o.Partitions}
            publishing:     {info.PublishesRefused ?? "taken"}
            """);
        if (o.Push is { } push)
        {
            var status = info.Push;
            Console.WriteLine($"""
                push to:        {push.Url} ({NamedValues.Kebab(push.Payload)}, timeout {push.Timeout.TotalSeconds:0.###} s, at most {push.MaxConcurrency} at once, {push.Secrets.Count} secret(s))
                push state:     {(status is null ? "not running (the queue is not active)" : $"{status.State}, {status.Concurrency} at once, {status.Pushed} pushed, {status.Failed} failed on {status.Silo}")}
                push error:     {(status?.LastError is { } error ? $"{error} at {status.LastErrorAt:u}" : "none")}
                """);
        }

        if (info.Partitions is { Count: > 0 } partitions)
        {
            Console.WriteLine($"{"PARTITION",-44} {"READY",10} {"IN-FLIGHT",10} {"CONSUMERS",10}  SILO");
            foreach (var p in partitions)
            {
                Console.WriteLine($"{p.Name,-44} {p.Ready,10} {p.InFlight,10} {p.Consumers,10}  {p.Silo}{(p.Held ? "  (new: keyed messages held until the old partition has settled theirs)" : "")}");
            }
        }
    }
}
