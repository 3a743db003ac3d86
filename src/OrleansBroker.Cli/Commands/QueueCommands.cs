using System.CommandLine;
using OrleansBroker.Queues;

namespace OrleansBroker.Cli.Commands;

/// <summary><c>obroker queue create|info|list|purge|delete</c>.</summary>
internal static class QueueCommands
{
    public static Command Create()
    {
        var queue = new Command("queue", "Create, inspect, list, purge and delete queues.");
        queue.Subcommands.Add(CreateCommand());
        queue.Subcommands.Add(Simple("info", "Show depth, consumers, counters and options.", async (broker, name, ct) => Print(await broker.GetQueueInfoAsync(name, ct))));
        queue.Subcommands.Add(Simple("purge", "Remove every ready message (not those in flight).", async (broker, name, ct) =>
            Console.WriteLine($"purged {await broker.PurgeQueueAsync(name, ct)} messages from {name}")));
        queue.Subcommands.Add(Simple("delete", "Delete the queue and all its messages.", async (broker, name, ct) =>
        {
            await broker.DeleteQueueAsync(name, ct);
            Console.WriteLine($"deleted {name}");
        }));

        var list = new Command("list", "List queues with their depth.");
        list.SetAction(async (parse, cancellationToken) =>
        {
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            var names = await connection.Broker.ListQueuesAsync(cancellationToken);
            Console.WriteLine($"{"QUEUE",-40} {"READY",10} {"IN-FLIGHT",10} {"CONSUMERS",10}");
            foreach (var name in names)
            {
                var info = await connection.Broker.GetQueueInfoAsync(name, cancellationToken);
                Console.WriteLine($"{name,-40} {info.Ready,10} {info.InFlight,10} {info.Consumers,10}");
            }

            return 0;
        });
        queue.Subcommands.Add(list);
        return queue;
    }

    private static Command CreateCommand()
    {
        var name = new Argument<string>("name") { Description = "Queue name: letters, digits, '.', '-', '_'; at most 200 characters." };
        var lease = new Option<double?>("--lease-seconds") { Description = "Lease (visibility timeout) in seconds, 1 to 43200. Default 30." };
        var attempts = new Option<int?>("--max-attempts") { Description = "Deliveries before dead-lettering, 1 to 1000, or 0 for unlimited. Default 10." };
        var dlq = new Option<string?>("--dead-letter-queue") { Description = "Dead-letter queue name. Default <name>.dlq; empty for none (needs --max-attempts 0)." };
        var retry = new Option<RetryKind>("--retry") { Description = "Backoff before a failed delivery comes back: Immediate, Fixed or Exponential. Default Immediate." };
        var retryDelay = new Option<double?>("--retry-delay-seconds") { Description = "Fixed wait, or the first exponential one, in seconds (0 to 7 days). Default 1." };
        var retryMax = new Option<double?>("--retry-max-delay-seconds") { Description = "Cap of an exponential wait in seconds. Default 300." };
        var retryMultiplier = new Option<double?>("--retry-multiplier") { Description = "Growth of an exponential wait per attempt, 1 to 100. Default 2." };
        var retryJitter = new Option<double?>("--retry-jitter") { Description = "Random spread as a fraction of the wait, 0 to 1. Default 0." };
        var ttl = new Option<string?>("--ttl") { Description = "Default time to live of its messages (30s, 5m, 2h, 7d; at most 365 days). Default none." };
        var deadLetterExpired = new Option<bool>("--dead-letter-expired") { Description = "Expired messages go to the dead-letter queue instead of being dropped." };
        var dedup = new Option<string?>("--dedup-window") { Description = "A repeated message id within this window is accepted once (0 turns it off; at most 7 days). Default 10m." };
        var maxLength = new Option<long?>("--max-length") { Description = "Most messages the queue holds. Default no limit." };
        var maxBytes = new Option<long?>("--max-bytes") { Description = "Most body bytes the queue holds. Default no limit." };
        var overflow = new Option<OverflowPolicy>("--overflow") { Description = "At a limit: RejectPublish (default), DropOldest or DeadLetterOldest." };
        var command = new Command("create", "Create a queue (no-op if it exists with the same options).")
        {
            name, lease, attempts, dlq, retry, retryDelay, retryMax, retryMultiplier, retryJitter, ttl, deadLetterExpired, dedup, maxLength, maxBytes, overflow,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var defaults = new QueueOptions();
            var policy = new RetryPolicy();
            var options = new QueueOptions
            {
                LeaseDuration = parse.GetValue(lease) is { } seconds ? TimeSpan.FromSeconds(seconds) : defaults.LeaseDuration,
                MaxDeliveryAttempts = parse.GetValue(attempts) ?? defaults.MaxDeliveryAttempts,
                DeadLetterQueue = parse.GetValue(dlq),
                Retry = new RetryPolicy
                {
                    Kind = parse.GetValue(retry),
                    InitialDelay = parse.GetValue(retryDelay) is { } initial ? TimeSpan.FromSeconds(initial) : policy.InitialDelay,
                    MaxDelay = parse.GetValue(retryMax) is { } cap ? TimeSpan.FromSeconds(cap) : policy.MaxDelay,
                    Multiplier = parse.GetValue(retryMultiplier) ?? policy.Multiplier,
                    Jitter = parse.GetValue(retryJitter) ?? policy.Jitter,
                },
                DefaultTimeToLive = Duration.Parse(parse.GetValue(ttl), "--ttl"),
                DeadLetterExpired = parse.GetValue(deadLetterExpired),
                DeduplicationWindow = Duration.Parse(parse.GetValue(dedup), "--dedup-window") ?? defaults.DeduplicationWindow,
                MaxLength = parse.GetValue(maxLength),
                MaxBytes = parse.GetValue(maxBytes),
                Overflow = parse.GetValue(overflow),
            };
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            Print(await connection.Broker.CreateQueueAsync(parse.GetValue(name)!, options, cancellationToken));
            return 0;
        });
        return command;
    }

    private static Command Simple(string verb, string description, Func<Client.IBrokerClient, string, CancellationToken, Task> run)
    {
        var name = new Argument<string>("name") { Description = "Queue name." };
        var command = new Command(verb, description) { name };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            await run(connection.Broker, parse.GetValue(name)!, cancellationToken);
            return 0;
        });
        return command;
    }

    private static string Describe(RetryPolicy retry) => retry.Kind switch
    {
        RetryKind.Fixed => $"fixed {retry.InitialDelay.TotalSeconds:0.###} s",
        RetryKind.Exponential => $"exponential from {retry.InitialDelay.TotalSeconds:0.###} s ×{retry.Multiplier:0.##} up to {retry.MaxDelay.TotalSeconds:0.###} s"
            + (retry.Jitter > 0 ? $", jitter {retry.Jitter:0.##}" : ""),
        _ => "immediate",
    };

    private static void Print(QueueInfo info)
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
            limits:         {(o.HasLengthLimit ? $"{o.MaxLength?.ToString() ?? "-"} messages, {o.MaxBytes?.ToString() ?? "-"} bytes, overflow {o.Overflow}" : "none")}
            created:        {info.CreatedAt:u}
            published:      {info.Counters.Published}
            delivered:      {info.Counters.Delivered} ({info.Counters.Redelivered} redelivered)
            acked:          {info.Counters.Acked}
            dead-lettered:  {info.Counters.DeadLettered}
            purged:         {info.Counters.Purged}
            expired:        {info.Counters.Expired}
            dropped (full): {info.Counters.Dropped}
            """);
    }
}
