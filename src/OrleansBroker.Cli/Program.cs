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
    GlobalOptions.ClusteringTable,
    PublishCommand.Create(),
    ConsumeCommand.Create(),
    QueueCommands.Create(),
    TopicCommands.Create(),
    DeadLetterCommands.Create(),
    BenchCommand.Create(),
};

// Whatever fails, on whichever thread: one line and exit code 2, never a stack trace.
AppDomain.CurrentDomain.UnhandledException += (_, e) =>
{
    Console.Error.WriteLine($"obroker: unexpected error: {Describe(e.ExceptionObject as Exception)}");
    Environment.Exit(2);
};

try
{
    return await root.Parse(args).InvokeAsync(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
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
