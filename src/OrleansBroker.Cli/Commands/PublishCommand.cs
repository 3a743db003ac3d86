using System.CommandLine;
using System.Globalization;
using System.Text;
using OrleansBroker.Client;
using OrleansBroker.Messages;
using OrleansBroker.Queues;

namespace OrleansBroker.Cli.Commands;

/// <summary><c>obroker publish QUEUE [--body TEXT | --size BYTES] [--count N] [--delay D | --deliver-at T] [--ttl D] [--priority P] [--key K] [--id ID]</c>.</summary>
internal static class PublishCommand
{
    public static Command Create()
    {
        var queue = new Argument<string>("queue") { Description = "Topic or queue to publish to: a topic of that name if there is one, else the queue (created with default options if missing)." };
        var body = new Option<string?>("--body") { Description = "Body text. Default 'message N' (N from 1), one per message." };
        var size = new Option<int?>("--size") { Description = "Body of this many bytes ('x') instead of text." };
        var count = new Option<int>("--count") { Description = "How many messages. Default 1.", DefaultValueFactory = _ => 1 };
        var batch = new Option<int>("--batch") { Description = "Messages per publish call, 1 to 1000. Default 100; 1 publishes one by one.", DefaultValueFactory = _ => 100 };
        var inflight = new Option<int>("--inflight")
        {
            Description = "Publish calls awaiting confirmation at once, 1 to 64. Default 1: strict publish order. More lets the broker commit several calls together (order across calls is then not guaranteed).",
            DefaultValueFactory = _ => 1,
        };
        var delay = new Option<string?>("--delay") { Description = "Deliver no sooner than this long from now (broker clock): 30s, 5m, 2h, 7d; at most 365 days." };
        var deliverAt = new Option<DateTimeOffset?>("--deliver-at") { Description = "Deliver no sooner than this time (ISO 8601, e.g. 2026-12-01T09:00:00Z); at most 365 days ahead." };
        var ttl = new Option<string?>("--ttl") { Description = "Time to live from when the message is deliverable (30s, 5m, 2h); never delivered after. Default the queue's." };
        var priority = new Option<int>("--priority") { Description = "0 (default, lowest) to 9: higher is delivered first." };
        var key = new Option<string?>("--key") { Description = "Ordering key (message group): messages with one key are delivered one at a time, in publish order." };
        var id = new Option<string?>("--id") { Description = "Message id, for deduplication within the queue's window; with --count above 1, each gets <id>-<n>." };
        var routingKey = new Option<string?>("--routing-key") { Description = "Routing key, matched by topic subscriptions' patterns (orders.eu.created)." };
        var headers = new Option<string[]>("--header")
        {
            Description = "Application header NAME=VALUE, matched by subscriptions' header filters; repeat for several.",
            AllowMultipleArgumentsPerToken = false,
        };
        var command = new Command("publish", "Publish messages; each is confirmed only once durably stored.")
        {
            queue, body, size, count, batch, inflight, delay, deliverAt, ttl, priority, key, id, routingKey, headers,
        };
        command.SetAction(async (parse, cancellationToken) =>
        {
            var name = parse.GetValue(queue)!;
            var total = parse.GetValue(count);
            var perCall = parse.GetValue(batch);
            var text = parse.GetValue(body);
            var bytes = parse.GetValue(size);
            var window = parse.GetValue(inflight);
            if (window is < 1 or > 64)
            {
                throw new CliException(2, "--inflight must be 1 to 64");
            }

            if (total < 1)
            {
                throw new CliException(2, "--count must be at least 1");
            }

            if (perCall is < 1 or > BrokerLimits.MaxBatchCount)
            {
                throw new CliException(2, $"--batch must be 1 to {BrokerLimits.MaxBatchCount}");
            }

            if (text is not null && bytes is not null)
            {
                throw new CliException(2, "give --body or --size, not both");
            }

            if (bytes is < 0)
            {
                throw new CliException(2, "--size must be 0 or more");
            }

            var wait = Duration.Parse(parse.GetValue(delay), "--delay");
            var at = parse.GetValue(deliverAt);
            var live = Duration.Parse(parse.GetValue(ttl), "--ttl");
            var level = parse.GetValue(priority);
            var group = parse.GetValue(key);
            var messageId = parse.GetValue(id);
            var route = parse.GetValue(routingKey);
            var applicationHeaders = ParseHeaders(parse.GetValue(headers) ?? []);
            if (wait is not null && at is not null)
            {
                throw new CliException(2, "give --delay or --deliver-at, not both");
            }

            var fixedBody = bytes is { } n ? Encoding.ASCII.GetBytes(new string('x', n)) : text is not null ? Encoding.UTF8.GetBytes(text) : null;
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            var broker = connection.Broker;
            var toTopic = await IsTopicAsync(connection.Admin, name, cancellationToken);
            if (!toTopic)
            {
                await connection.Admin.CreateQueueIfMissingAsync(name, cancellationToken);
            }

            BrokerMessage Create(long index)
            {
                // A body of its own per message, as real producers send: a shared array would be serialized once per call.
                var body = fixedBody is not null ? (byte[])fixedBody.Clone() : Encoding.UTF8.GetBytes("message " + (index + 1).ToString(CultureInfo.InvariantCulture));
                var ordinal = (index + 1).ToString(CultureInfo.InvariantCulture);
                var message = new BrokerMessage(messageId is null ? null : total == 1 ? messageId : $"{messageId}-{ordinal}", body,
                    fixedBody is null || text is not null ? "text/plain" : "application/octet-stream", applicationHeaders, route,
                    DeliverAt: at, Delay: wait, TimeToLive: live, Priority: level, OrderingKey: group);

                // Checked here so that a bad value is a usage error before anything is sent; the size is the silo's to
                // judge (its limit, Broker:MaxMessageBytes, is what it quotes when it refuses).
                MessageValidator.Validate(message, int.MaxValue);
                return message;
            }

            if (total == 1)
            {
                // One message: show its receipt (a repeat of an id within the dedup window shows the first one's sequence).
                if (toTopic)
                {
                    var routed = await broker.PublishToTopicAsync(name, Create(0), cancellationToken);
                    Console.WriteLine($"published message {routed.MessageId} to topic {name}: {Describe(name, routed)}");
                    return 0;
                }

                var receipt = await broker.PublishAsync(name, Create(0), cancellationToken);
                Console.WriteLine($"published message {receipt.MessageId} to {name} as sequence {receipt.Sequence}");
                return 0;
            }

            var progress = new Progress("published", total);
            long published = 0;
            var target = toTopic ? PipelinedPublisher.ToTopic(broker, name) : PipelinedPublisher.ToQueue(broker, name);
            try
            {
                await PipelinedPublisher.RunAsync(target, total, perCall, window, Create, done =>
                {
                    published = done;
                    progress.Report(done);
                }, cancellationToken);
            }
            catch (Errors.BrokerException exception)
            {
                // Say how far it got: a producer that retries must know what is stored.
                throw new CliException(2, $"{exception.Code}: {exception.Message} The first {published} of {total} messages were confirmed " +
                    $"and are stored{(window > 1 ? "; some after them may be stored too" : "; none after them")}.");
            }

            var seconds = progress.Elapsed.TotalSeconds;
            Console.WriteLine($"published {published} messages to {(toTopic ? "topic " : "")}{name} in {seconds:F2} s ({published / Math.Max(seconds, 0.001):F0} msg/s)");
            return 0;
        });
        return command;
    }

    /// <summary>Where a topic publish went: the subscriptions that hold it, and those whose copy was dead-lettered (a transform failed).</summary>
    internal static string Describe(string topic, Topics.TopicReceipt receipt)
    {
        var dead = receipt.DeadLettered ?? [];
        var stored = receipt.Subscriptions.Where(s => !dead.Contains(s, StringComparer.Ordinal)).ToList();
        if (stored.Count == 0 && dead.Count == 0)
        {
            return "no subscription matched";
        }

        var parts = new List<string>();
        if (stored.Count > 0)
        {
            parts.Add($"stored for {string.Join(", ", stored)}");
        }

        if (dead.Count > 0)
        {
            parts.Add($"dead-lettered by {string.Join(", ", dead)} (its transform failed; obroker dlq peek {topic}/{dead[0]})");
        }

        return string.Join("; ", parts);
    }

    private static Dictionary<string, string>? ParseHeaders(string[] values)
    {
        if (values.Length == 0)
        {
            return null;
        }

        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var value in values)
        {
            var equals = value.IndexOf('=', StringComparison.Ordinal);
            if (equals <= 0)
            {
                throw new CliException(2, $"--header '{value}' is not NAME=VALUE");
            }

            headers[value[..equals]] = value[(equals + 1)..];
        }

        return headers;
    }

    private static async Task<bool> IsTopicAsync(IBrokerAdministrationClient admin, string name, CancellationToken cancellationToken)
    {
        if (QueueName.IsSubscriptionQueue(name))
        {
            return false;
        }

        try
        {
            await admin.GetTopicInfoAsync(name, cancellationToken);
            return true;
        }
        catch (Errors.BrokerException exception) when (exception.Code == Errors.BrokerErrorCode.TopicNotFound)
        {
            return false;
        }
    }
}
