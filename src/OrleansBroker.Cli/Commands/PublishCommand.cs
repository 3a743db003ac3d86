using System.CommandLine;
using System.Globalization;
using System.Text;
using OrleansBroker.Client;
using OrleansBroker.Messages;

namespace OrleansBroker.Cli.Commands;

/// <summary><c>obroker publish QUEUE [--body TEXT | --size BYTES] [--count N]</c>.</summary>
internal static class PublishCommand
{
    public static Command Create()
    {
        var queue = new Argument<string>("queue") { Description = "Queue to publish to; created with default options if missing." };
        var body = new Option<string?>("--body") { Description = "Body text. Default 'message N' (N from 1), one per message." };
        var size = new Option<int?>("--size") { Description = "Body of this many bytes ('x') instead of text." };
        var count = new Option<int>("--count") { Description = "How many messages. Default 1.", DefaultValueFactory = _ => 1 };
        var batch = new Option<int>("--batch") { Description = "Messages per publish call, 1 to 1000. Default 100; 1 publishes one by one.", DefaultValueFactory = _ => 100 };
        var inflight = new Option<int>("--inflight")
        {
            Description = "Publish calls awaiting confirmation at once, 1 to 64. Default 1: strict publish order. More lets the broker commit several calls together (order across calls is then not guaranteed).",
            DefaultValueFactory = _ => 1,
        };
        var command = new Command("publish", "Publish messages; each is confirmed only once durably stored.") { queue, body, size, count, batch, inflight };
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

            var fixedBody = bytes is { } n ? Encoding.ASCII.GetBytes(new string('x', n)) : text is not null ? Encoding.UTF8.GetBytes(text) : null;
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            var broker = connection.Broker;
            await broker.CreateQueueIfMissingAsync(name, cancellationToken);

            var progress = new Progress("published", total);
            long published = 0;
            await PipelinedPublisher.RunAsync(broker, name, total, perCall, window, index =>
            {
                // A body of its own per message, as real producers send: a shared array would be serialized once per call.
                var body = fixedBody is not null ? (byte[])fixedBody.Clone() : Encoding.UTF8.GetBytes("message " + (index + 1).ToString(CultureInfo.InvariantCulture));
                return new BrokerMessage(null, body, fixedBody is null || text is not null ? "text/plain" : "application/octet-stream");
            }, done =>
            {
                published = done;
                progress.Report(done);
            }, cancellationToken);

            var seconds = progress.Elapsed.TotalSeconds;
            Console.WriteLine($"published {published} messages to {name} in {seconds:F2} s ({published / Math.Max(seconds, 0.001):F0} msg/s)");
            return 0;
        });
        return command;
    }
}
