using System.CommandLine;
using System.Globalization;
using OrleansBroker.Client;
using OrleansBroker.Topics;

namespace OrleansBroker.Cli.Commands;

/// <summary><c>obroker topic create|info|list|delete|subscribe|unsubscribe</c>.</summary>
internal static class TopicCommands
{
    public static Command Create()
    {
        var topic = new Command("topic", "Create topics and their subscriptions (each a durable queue <topic>/<subscription>).");
        topic.Subcommands.Add(CreateCommand());
        topic.Subcommands.Add(SeekCommand());
        topic.Subcommands.Add(Simple("info", "Show a topic's subscriptions, filters and counters.", async (admin, name, ct) => Print(await admin.GetTopicInfoAsync(name, ct))));
        topic.Subcommands.Add(Simple("delete", "Delete a topic with its subscriptions and their queues.", async (admin, name, ct) =>
        {
            await admin.DeleteTopicAsync(name, ct);
            Console.WriteLine($"deleted topic {name}");
        }));

        var list = new Command("list", "List topics with their subscription count.");
        list.SetAction(async (parse, cancellationToken) =>
        {
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            Console.WriteLine($"{"TOPIC",-40} {"SUBSCRIPTIONS",13} {"PUBLISHED",10}");
            foreach (var name in await connection.Admin.ListTopicsAsync(cancellationToken))
            {
                var info = await connection.Admin.GetTopicInfoAsync(name, cancellationToken);
                Console.WriteLine($"{name,-40} {info.Subscriptions.Count,13} {info.Published,10}");
            }

            return 0;
        });
        topic.Subcommands.Add(list);
        topic.Subcommands.Add(SubscribeCommand());
        topic.Subcommands.Add(PushCommand());

        var unsubscribeTopic = new Argument<string>("topic") { Description = "Topic name." };
        var unsubscribeName = new Argument<string>("subscription") { Description = "Subscription name." };
        var unsubscribe = new Command("unsubscribe", "Remove a subscription and delete its queue with its messages.") { unsubscribeTopic, unsubscribeName };
        unsubscribe.SetAction(async (parse, cancellationToken) =>
        {
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            Print(await connection.Admin.DeleteSubscriptionAsync(parse.GetValue(unsubscribeTopic)!, parse.GetValue(unsubscribeName)!, cancellationToken));
            return 0;
        });
        topic.Subcommands.Add(unsubscribe);
        return topic;
    }

    private static Command CreateCommand()
    {
        var name = new Argument<string>("topic") { Description = "Topic name (queue naming rules, no '/')." };
        var retention = new Option<string?>("--retention") { Description = "Keep messages this long for replay (30s, 5m, 2h, 7d; at most 365 days). Default none." };
        var retentionBytes = new Option<long?>("--retention-bytes") { Description = "Keep at most this many body bytes for replay, oldest dropped first. Default none." };
        var partitions = new Option<int?>("--partitions") { Description = "Topic grains the routing is split into, 1 to 64 (a key's messages all pass through one). Default 1." };
        var command = new Command("create", "Create a topic (no-op if it exists with the same options).") { name, retention, retentionBytes, partitions };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var options = new TopicOptions
            {
                RetentionTime = Duration.Parse(parse.GetValue(retention), "--retention"),
                RetentionBytes = parse.GetValue(retentionBytes),
                Partitions = parse.GetValue(partitions) ?? 1,
            };
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            Print(await connection.Admin.CreateTopicAsync(parse.GetValue(name)!, options, cancellationToken));
            return 0;
        });
        return command;
    }

    private static Command SeekCommand()
    {
        var topic = new Argument<string>("topic") { Description = "Topic name." };
        var name = new Argument<string>("subscription") { Description = "Subscription name." };
        var to = new Option<DateTimeOffset>("--to") { Description = "Deliver again what was published at or after this time (ISO 8601); what came before counts as acked.", Required = true };
        var command = new Command("seek", "Purge a subscription's queue and replay the retained messages from a time (retaining topics).") { topic, name, to };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            await connection.Admin.SeekSubscriptionAsync(parse.GetValue(topic)!, parse.GetValue(name)!, parse.GetValue(to), cancellationToken);
            Console.WriteLine($"seeking {parse.GetValue(topic)}/{parse.GetValue(name)} to {parse.GetValue(to):O}: replay runs in the broker; watch the queue's depth");
            return 0;
        });
        return command;
    }

    private static Command PushCommand()
    {
        var topic = new Argument<string>("topic") { Description = "Topic name." };
        var name = new Argument<string>("subscription") { Description = "Subscription name." };
        var push = new PushOptionsBinder();
        var off = new Option<bool>("--off") { Description = "Stop pushing: the messages stay in the subscription's queue for consumers." };
        var command = new Command("push", "Replace the push endpoint of a subscription's queue, keeping its messages, or --off.") { topic, name, off };
        push.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var endpoint = QueueCommands.PushOrOff(parse, push, off);
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            Print(await connection.Admin.SetSubscriptionPushAsync(parse.GetValue(topic)!, parse.GetValue(name)!, endpoint, cancellationToken));
            push.ShowMadeSecret();
            return 0;
        });
        return command;
    }

    private static Command SubscribeCommand()
    {
        var topic = new Argument<string>("topic") { Description = "Topic name." };
        var name = new Argument<string>("subscription") { Description = "Subscription name; its queue is <topic>/<subscription>." };
        var keys = new Option<string[]>("--key") { Description = "Routing-key pattern, repeatable (any may match): 'orders.*.created', 'orders.#'. Default every key." };
        var equals = new Option<string[]>("--header") { Description = "NAME=VALUE or NAME=V1|V2: the header equals (one of) the values. Repeatable; all must hold." };
        var prefix = new Option<string[]>("--header-prefix") { Description = "NAME=PREFIX or NAME=P1|P2: the header starts with one of them." };
        var exists = new Option<string[]>("--header-exists") { Description = "NAME: the header is present." };
        var missing = new Option<string[]>("--header-missing") { Description = "NAME: the header is absent." };
        var range = new Option<string[]>("--header-range") { Description = "NAME=MIN..MAX (either side may be empty): the header is a number within, inclusive." };
        var transform = new Option<string?>("--transform")
        {
            Description = "Transform on the way in: cloudevents-wrap, cloudevents-unwrap, json-project, header-enrich, content-type, or one registered on the silo.",
        };
        var settings = new Option<string[]>("--transform-setting") { Description = "KEY=VALUE for the transform, repeatable: mode=binary, keep=id,total, rename=a:b, headers=tenant, to=application/json." };
        var replay = new Option<string?>("--replay-from") { Description = "On a retaining topic: also replay retained messages since this time (ISO 8601), or 'earliest'. Default: only new ones." };
        var queueOptions = new QueueOptionsBinder();
        var command = new Command("subscribe", "Add a subscription with a filter; its queue takes every queue option.")
        {
            topic, name, keys, equals, prefix, exists, missing, range, transform, settings, replay,
        };
        queueOptions.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var predicates = new List<HeaderPredicate>();
            predicates.AddRange((parse.GetValue(equals) ?? []).Select(h => Split(h, "--header", (n, v) => new HeaderPredicate(n, HeaderMatch.OneOf, v.Split('|')))));
            predicates.AddRange((parse.GetValue(prefix) ?? []).Select(h => Split(h, "--header-prefix", (n, v) => new HeaderPredicate(n, HeaderMatch.Prefix, v.Split('|')))));
            predicates.AddRange((parse.GetValue(exists) ?? []).Select(n => new HeaderPredicate(n, HeaderMatch.Exists)));
            predicates.AddRange((parse.GetValue(missing) ?? []).Select(n => new HeaderPredicate(n, HeaderMatch.NotExists)));
            predicates.AddRange((parse.GetValue(range) ?? []).Select(h => Split(h, "--header-range", Range)));
            var patterns = parse.GetValue(keys) ?? [];
            var filter = new SubscriptionFilter(patterns.Length == 0 ? null : patterns, predicates.Count == 0 ? null : predicates);
            var pairs = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var setting in parse.GetValue(settings) ?? [])
            {
                var equal = setting.IndexOf('=', StringComparison.Ordinal);
                if (equal <= 0)
                {
                    throw new CliException(2, $"--transform-setting '{setting}': write KEY=VALUE");
                }

                pairs[setting[..equal]] = setting[(equal + 1)..];
            }

            if (pairs.Count > 0 && parse.GetValue(transform) is null)
            {
                throw new CliException(2, "--transform-setting needs --transform");
            }

            var spec = parse.GetValue(transform) is { } transformName ? new SubscriptionTransform(transformName, pairs) : null;
            var subscription = new Subscription(parse.GetValue(name)!, filter, queueOptions.Bind(parse), spec);
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            DateTimeOffset? from = parse.GetValue(replay) switch
            {
                null => null,
                "earliest" => DateTimeOffset.MinValue,
                var text when DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) => at,
                var text => throw new CliException(2, $"--replay-from '{text}': write an ISO 8601 time or 'earliest'"),
            };
            Print(await connection.Admin.CreateSubscriptionAsync(parse.GetValue(topic)!, subscription, from, cancellationToken));
            queueOptions.ShowMadeSecret();
            return 0;
        });
        return command;
    }

    private static HeaderPredicate Split(string text, string option, Func<string, string, HeaderPredicate> make)
    {
        var equal = text.IndexOf('=', StringComparison.Ordinal);
        if (equal <= 0)
        {
            throw new CliException(2, $"{option} '{text}': write NAME=VALUE");
        }

        return make(text[..equal], text[(equal + 1)..]);
    }

    private static HeaderPredicate Range(string header, string bounds)
    {
        var dots = bounds.IndexOf("..", StringComparison.Ordinal);
        double? Bound(string text) => text.Length == 0 ? null
            : double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) ? value
            : throw new CliException(2, $"--header-range {header}={bounds}: '{text}' is not a number");
        return dots < 0
            ? throw new CliException(2, $"--header-range {header}={bounds}: write NAME=MIN..MAX (a side may be empty)")
            : new HeaderPredicate(header, HeaderMatch.Range, Min: Bound(bounds[..dots]), Max: Bound(bounds[(dots + 2)..]));
    }

    private static Command Simple(string verb, string description, Func<IBrokerAdministrationClient, string, CancellationToken, Task> run) =>
        NamedCommand.Create(verb, description, "topic", "Topic name.", run);

    /// <summary>A filter as one line: the patterns, then the header tests.</summary>
    internal static string Describe(SubscriptionFilter filter)
    {
        var parts = new List<string>();
        if (filter.RoutingKeys is { Count: > 0 } keys)
        {
            parts.Add("key " + string.Join(" | ", keys));
        }

        foreach (var p in filter.Headers ?? [])
        {
            parts.Add(p.Match switch
            {
                HeaderMatch.OneOf => $"{p.Header} = {string.Join("|", p.Values!)}",
                HeaderMatch.Prefix => $"{p.Header} ^= {string.Join("|", p.Values!)}",
                HeaderMatch.Exists => $"{p.Header} exists",
                HeaderMatch.NotExists => $"{p.Header} missing",
                _ => $"{p.Header} in {p.Min?.ToString(CultureInfo.InvariantCulture)}..{p.Max?.ToString(CultureInfo.InvariantCulture)}",
            });
        }

        return parts.Count == 0 ? "every message" : string.Join(" and ", parts);
    }

    private static void Print(TopicInfo info)
    {
        Console.WriteLine($"topic:          {info.Name}");
        Console.WriteLine($"created:        {info.CreatedAt:u}");
        Console.WriteLine($"published:      {info.Published} ({info.Unrouted} matched no subscription)");
        var retention = info.Options is { Retains: true } o ? $"{o.RetentionTime?.ToString() ?? "no time limit"}, {o.RetentionBytes?.ToString(CultureInfo.InvariantCulture) ?? "no size limit"}" : "none";
        Console.WriteLine($"retention:      {retention}");
        Console.WriteLine($"partitions:     {info.Options?.Partitions ?? 1}");
        Console.WriteLine($"subscriptions:  {info.Subscriptions.Count}");
        foreach (var subscription in info.Subscriptions)
        {
            var transform = subscription.Transform is { } t
                ? $"; transform {t.Name}{(t.Settings is { Count: > 0 } ts ? " " + string.Join(" ", ts.Select(p => $"{p.Key}={p.Value}")) : "")}"
                : "";
            Console.WriteLine($"  {subscription.QueueName(info.Name),-40} {Describe(subscription.Filter)}{transform}");
        }
    }
}
