using System.CommandLine;
using OrleansBroker.Client;

namespace OrleansBroker.Cli.Commands;

/// <summary>A command that takes one name and runs one broker call: <c>queue info q</c>, <c>topic delete t</c>.</summary>
internal static class NamedCommand
{
    public static Command Create(string verb, string description, string argument, string argumentDescription, Func<IBrokerAdministrationClient, string, CancellationToken, Task> run)
    {
        var name = new Argument<string>(argument) { Description = argumentDescription };
        var command = new Command(verb, description) { name };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            await run(connection.Admin, parse.GetValue(name)!, cancellationToken);
            return 0;
        });
        return command;
    }
}
