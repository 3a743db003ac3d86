using System.CommandLine;
using OrleansBroker.Identity;

namespace OrleansBroker.Cli.Commands;

/// <summary>
/// <c>obroker user|key|permission ...</c>: the principals of the HTTP API (and the other edges), managed over the trusted
/// gateway. Passwords and keys are never printed back, but a new key is, once.
/// </summary>
internal static class PrincipalCommands
{
    private static readonly Option<string> Tenant = new("--tenant") { Description = "Home tenant (and the tenant the permissions are for). Default: the default tenant.", DefaultValueFactory = _ => Tenants.Default };
    private static readonly Option<string> Manage = new("--manage") { Description = "Names it may manage: a pattern, '*' for all. Default none.", DefaultValueFactory = _ => "" };
    private static readonly Option<string> Send = new("--send") { Description = "Names it may publish to: a pattern. Default none.", DefaultValueFactory = _ => "" };
    private static readonly Option<string> Receive = new("--receive") { Description = "Names it may receive from and settle: a pattern. Default none.", DefaultValueFactory = _ => "" };
    private static readonly Option<bool> Administrator = new("--administrator") { Description = "Manages principals, every tenant and the broker." };
    private static readonly Option<string?> Description = new("--description") { Description = "Whom or what it is for." };
    private static readonly Option<string?> Password = new("--password") { Description = "The password (8 to 256 characters); it shows in your shell's history: prefer --password-stdin." };
    private static readonly Option<bool> PasswordStdin = new("--password-stdin") { Description = "Read the password from the first line of standard input." };

    public static Command User()
    {
        var user = new Command("user", "Users of the HTTP API: people who sign in with a name and password.");
        var name = new Argument<string>("name") { Description = "User name: letters, digits, '.', '-', '_'." };
        var create = new Command("create", "Make a user with a password and permissions in one tenant.")
        {
            name, Password, PasswordStdin, Tenant, Manage, Send, Receive, Administrator, Description,
        };
        create.SetAction(async (parse, cancellationToken) =>
        {
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            var made = await connection.Identity.CreateUser(parse.GetValue(name)!, ReadPassword(parse), Access(parse)).WaitAsync(cancellationToken);
            Console.WriteLine($"made user {made.Name} in tenant {Shown(made.Access.Tenant)}");
            return 0;
        });
        var password = new Command("password", "Set a user's password; sign-ins with the old one stop.") { name, Password, PasswordStdin };
        password.SetAction(async (parse, cancellationToken) =>
        {
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            await connection.Identity.SetPassword(parse.GetValue(name)!, ReadPassword(parse)).WaitAsync(cancellationToken);
            Console.WriteLine($"set the password of {parse.GetValue(name)}");
            return 0;
        });
        user.Subcommands.Add(create);
        user.Subcommands.Add(password);
        user.Subcommands.Add(ListCommand());
        user.Subcommands.Add(DeleteCommand("delete", "Delete a user (or an API key)."));
        return user;
    }

    public static Command Key()
    {
        var key = new Command("key", "API keys of the HTTP API: services send 'Authorization: Bearer <key>'.");
        var name = new Argument<string>("name") { Description = "Key name: letters, digits, '.', '-', '_'." };
        var create = new Command("create", "Make an API key and print it, this once.") { name, Tenant, Manage, Send, Receive, Administrator, Description };
        create.SetAction(async (parse, cancellationToken) =>
        {
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            var made = await connection.Identity.CreateApiKey(parse.GetValue(name)!, Access(parse)).WaitAsync(cancellationToken);
            Console.WriteLine(made.Key);
            Console.Error.WriteLine($"made API key {made.Principal.Name} in tenant {Shown(made.Principal.Access.Tenant)}; it is shown this once");
            return 0;
        });
        key.Subcommands.Add(create);
        key.Subcommands.Add(ListCommand());
        key.Subcommands.Add(DeleteCommand("revoke", "Revoke an API key: it stops working at once on every silo."));
        return key;
    }

    public static Command Permission()
    {
        var permission = new Command("permission", "What a user or key may do in a tenant.");
        var name = new Argument<string>("name") { Description = "User or key name." };
        var set = new Command("set", "Set (replace) a principal's permissions in one tenant; those in other tenants stay.") { name, Tenant, Manage, Send, Receive };
        set.SetAction((parse, cancellationToken) => ChangeAsync(parse, name, (access, tenant) => access with
        {
            Permissions = [.. access.Permissions.Where(p => p.Tenant != tenant), new TenantPermission(tenant, parse.GetValue(Manage)!, parse.GetValue(Send)!, parse.GetValue(Receive)!)],
        }, cancellationToken));
        var clear = new Command("clear", "Remove a principal's permissions in one tenant.") { name, Tenant };
        clear.SetAction((parse, cancellationToken) => ChangeAsync(parse, name, (access, tenant) => access with
        {
            Permissions = [.. access.Permissions.Where(p => p.Tenant != tenant)],
        }, cancellationToken));
        permission.Subcommands.Add(set);
        permission.Subcommands.Add(clear);
        return permission;
    }

    private static Command ListCommand()
    {
        var list = new Command("list", "Users and API keys with their tenant and permissions (never a secret).");
        list.SetAction(async (parse, cancellationToken) =>
        {
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            foreach (var principal in await connection.Identity.List().WaitAsync(cancellationToken))
            {
                var permissions = Describe(principal.Access.Permissions);
                var kind = principal.Kind == PrincipalKind.User ? "user" : "key";
                Console.WriteLine($"{principal.Name}\t{kind}\ttenant {Shown(principal.Access.Tenant)}{(principal.Access.Administrator ? "\tadministrator" : "")}\t{permissions}");
            }

            return 0;
        });
        return list;
    }

    private static Command DeleteCommand(string verb, string description)
    {
        var name = new Argument<string>("name") { Description = "User or key name." };
        var command = new Command(verb, description) { name };
        command.SetAction(async (parse, cancellationToken) =>
        {
            await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
            if (!await connection.Identity.Delete(parse.GetValue(name)!).WaitAsync(cancellationToken))
            {
                throw new CliException(2, $"there is no user or API key '{parse.GetValue(name)}'");
            }

            Console.WriteLine($"deleted {parse.GetValue(name)}");
            return 0;
        });
        return command;
    }

    private static async Task<int> ChangeAsync(ParseResult parse, Argument<string> name, Func<PrincipalAccess, string, PrincipalAccess> change, CancellationToken cancellationToken)
    {
        await using var connection = await GlobalOptions.ConnectAsync(parse, cancellationToken);
        var principal = await connection.Identity.Get(parse.GetValue(name)!).WaitAsync(cancellationToken)
            ?? throw new CliException(2, $"there is no user or API key '{parse.GetValue(name)}'");
        var changed = await connection.Identity.SetAccess(principal.Name, change(principal.Access, parse.GetValue(Tenant)!)).WaitAsync(cancellationToken);
        Console.WriteLine($"{changed.Name}: {Describe(changed.Access.Permissions)}");
        return 0;
    }

    private static PrincipalAccess Access(ParseResult parse)
    {
        var tenant = parse.GetValue(Tenant)!;
        var permission = new TenantPermission(tenant, parse.GetValue(Manage)!, parse.GetValue(Send)!, parse.GetValue(Receive)!);
        return new PrincipalAccess(tenant, permission is { Manage: "", Send: "", Receive: "" } ? [] : [permission], parse.GetValue(Administrator), parse.GetValue(Description));
    }

    private static string ReadPassword(ParseResult parse) =>
        parse.GetValue(PasswordStdin) ? Console.In.ReadLine() ?? throw new CliException(2, "--password-stdin: standard input is empty")
        : parse.GetValue(Password) ?? throw new CliException(2, "give the password with --password-stdin (or --password)");

    private static string Describe(IEnumerable<TenantPermission> permissions) =>
        string.Join("; ", permissions.Select(p => $"{Shown(p.Tenant)}: manage '{p.Manage}' send '{p.Send}' receive '{p.Receive}'"));

    private static string Shown(string tenant) => tenant.Length == 0 ? "(default)" : tenant;
}
