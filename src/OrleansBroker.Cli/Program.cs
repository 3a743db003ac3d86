using System.CommandLine;
using OrleansBroker.Cli;
using OrleansBroker.Cli.Commands;
using OrleansBroker.Errors;

var root = new RootCommand("obroker: publish to, consume from and administer an OrleansBroker cluster.")
{
    GlobalOptions.Gateway,
    GlobalOptions.ClusterId,
    GlobalOptions.Clustering,
    GlobalOptions.AzureConnectionString,
    GlobalOptions.PostgresConnectionString,
    GlobalOptions.ClusteringTable,
    GlobalOptions.TlsCertificate,
    GlobalOptions.TlsKey,
    GlobalOptions.TlsPassword,
    GlobalOptions.TlsTrust,
    GlobalOptions.MaxPublishCalls,
    PublishCommand.Create(),
    ConsumeCommand.Create(),
    QueueCommands.Create(),
    TopicCommands.Create(),
    DeadLetterCommands.Create(),
    PrincipalCommands.User(),
    PrincipalCommands.Key(),
    PrincipalCommands.Permission(),
    BenchCommand.Create(),
};

// Whatever fails, on whichever thread: one line and exit code 2, never a stack trace.
AppDomain.CurrentDomain.UnhandledException += (_, e) =>
{
    Console.Error.WriteLine($"obroker: unexpected error: {Describe(e.ExceptionObject as Exception)}");
    Environment.Exit(2);
};

if (args.Length == 0)
{
    // Bare obroker: what it can do, and success.
    return await root.Parse(["--help"]).InvokeAsync();
}

var parsed = root.Parse(args);
if (parsed.Errors.Count > 0)
{
    // A bad command, option or argument: one line and exit code 2, with where to read more; not the whole help.
    var command = string.Join(' ', parsed.CommandResult.Command is var c && c == root ? ["obroker"] : CommandPath(parsed.CommandResult));
    Console.Error.WriteLine($"obroker: {Plain(parsed.Errors[0].Message)} (see: {command} --help)");
    return 2;
}

try
{
    return await parsed.InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
}
catch (CliException exception)
{
    Console.Error.WriteLine($"obroker: {exception.Message}");
    return exception.ExitCode;
}
catch (BrokerException exception)
{
    Console.Error.WriteLine($"obroker: {exception.Code}: {exception.Message}");
    return 2;
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("obroker: cancelled");
    return 130;
}
catch (Exception exception) when (exception is TimeoutException or Orleans.Runtime.OrleansException or System.Net.Sockets.SocketException)
{
    Console.Error.WriteLine($"obroker: the broker did not answer: {exception.GetBaseException().Message}");
    return 3;
}
catch (Exception exception)
{
    Console.Error.WriteLine($"obroker: unexpected error: {Describe(exception)}");
    return 2;
}

static string Describe(Exception? exception) =>
    exception is null ? "unknown" : $"{exception.GetType().Name}: {exception.GetBaseException().Message.ReplaceLineEndings(" ")}";

static IEnumerable<string> CommandPath(System.CommandLine.Parsing.CommandResult result)
{
    var names = new Stack<string>();
    for (System.CommandLine.Parsing.SymbolResult? r = result; r is not null; r = r.Parent)
    {
        if (r is System.CommandLine.Parsing.CommandResult command)
        {
            names.Push(command.Parent is null ? "obroker" : command.Command.Name);
        }
    }

    return names;
}

// The parser names .NET types ("as expected type 'System.Int32'"); a user is told what to type.
static string Plain(string message) => System.Text.RegularExpressions.Regex.Replace(message, @"as expected type '([^']+)'", m => "as " + (m.Groups[1].Value switch
{
    var t when t.Contains("Int32", StringComparison.Ordinal) || t.Contains("Int64", StringComparison.Ordinal) => "a whole number",
    var t when t.Contains("Double", StringComparison.Ordinal) => "a number",
    var t when t.Contains("DateTimeOffset", StringComparison.Ordinal) => "a time (ISO 8601, e.g. 2026-12-01T09:00:00Z)",
    var t when t.Contains("Boolean", StringComparison.Ordinal) => "true or false",
    _ => "a value of the right kind",
}));
