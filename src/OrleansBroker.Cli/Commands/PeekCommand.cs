using System.CommandLine;
using System.Globalization;
using System.Text;
using OrleansBroker.Messages;

namespace OrleansBroker.Cli.Commands;

/// <summary>Peeking as <c>queue peek</c> and <c>dlq peek</c> show it: one line a message, nothing consumed or changed.</summary>
internal static class PeekCommand
{
    private const int BodyPreviewChars = 60;

    /// <summary>
    /// A peek command over the queue <paramref name="resolve"/> names from the argument (the queue itself, or its dead-letter
    /// queue), with <c>--max</c> and <c>--after</c>.
    /// </summary>
    public static Command Create(string description, Argument<string> queue, Func<BrokerConnection, string, CancellationToken, Task<string>> resolve)
    {
        var max = new Option<int>("--max") { Description = "Messages to show, 1 to 1000. Default 20.", DefaultValueFactory = _ => 20 };
        var after = new Option<long>("--after") { Description = "Show messages after this sequence (the last one a previous peek showed).", DefaultValueFactory = _ => 0 };
        var command = new Command("peek", description) { queue, max, after };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            var name = await resolve(connection, parse.GetValue(queue)!, cancellationToken);
            var messages = await connection.Broker.PeekAsync(name, parse.GetValue(after), parse.GetValue(max), cancellationToken);
            Console.WriteLine($"{"SEQ",8}  {"ID",-34} {"ATTEMPTS",8}  {"STATE",-8} {"KEY",-16} {"REASON",-32} BODY");
            foreach (var message in messages)
            {
                var headers = message.Headers ?? new Dictionary<string, string>();
                var attempts = headers.GetValueOrDefault(BrokerHeaders.Attempts, message.Attempts.ToString(CultureInfo.InvariantCulture));
                var reason = headers.GetValueOrDefault(BrokerHeaders.DeadLetterReason, "");
                Console.WriteLine($"{message.Sequence,8}  {message.MessageId,-34} {attempts,8}  {message.State,-8} {message.OrderingKey,-16} {reason,-32} {Preview(message.Body)}");
            }

            Console.WriteLine($"{messages.Count} messages shown from {name}" + (messages.Count == parse.GetValue(max) ? $"; more with --after {messages[^1].Sequence}" : ""));
            return 0;
        });
        return command;
    }

    private static string Preview(byte[] body)
    {
        var text = Encoding.UTF8.GetString(body, 0, Math.Min(body.Length, BodyPreviewChars * 4));
        var printable = new string([.. text.Take(BodyPreviewChars).Select(c => char.IsControl(c) ? '.' : c)]);
        return body.Length > BodyPreviewChars ? printable + "…" : printable;
    }
}
