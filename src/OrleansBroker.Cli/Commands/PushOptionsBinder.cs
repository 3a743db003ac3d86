using System.CommandLine;
using System.Security.Cryptography;
using OrleansBroker.Queues;

namespace OrleansBroker.Cli.Commands;

/// <summary>A push endpoint as command-line options: <c>queue create</c>, <c>topic subscribe</c>, <c>queue push</c> and <c>topic push</c> share them.</summary>
internal sealed class PushOptionsBinder
{
    private readonly Option<string?> _pushUrl = new("--push-url") { Description = "Push each message to this http(s) URL instead of waiting for consumers (the endpoint must confirm first). Default none." };
    private readonly Option<string[]> _pushSecret = new("--push-secret")
    {
        Description = "Secret the pushes are signed with (Broker-Signature), at least 16 characters; twice while rotating. Default: one is made and printed once.",
        AllowMultipleArgumentsPerToken = false,
    };

    private readonly Option<string?> _pushTimeout = new("--push-timeout") { Description = "How long a push may take before it counts as failed (1s to less than the lease). Default 10s." };
    private readonly Option<int?> _pushConcurrency = new("--push-concurrency") { Description = "Most pushes in flight at once, 1 to 1000. Default 64." };
    private readonly Option<string[]> _pushHeader = new("--push-header") { Description = "An extra request header, NAME=VALUE (for example Authorization=Bearer ...); repeatable." };
    private readonly Option<PushPayload> _pushPayload = NamedValues.Option("--push-payload",
        "How a message is laid out: raw (default; fields in Broker-* headers), cloud-events-binary or cloud-events-structured.", PushPayload.Raw);


    /// <summary>The push secret made because none was given, to be shown once; null otherwise.</summary>
    public string? MadeSecret { get; private set; }

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { _pushUrl, _pushSecret, _pushTimeout, _pushConcurrency, _pushHeader, _pushPayload })
        {
            command.Options.Add(option);
        }
    }

    public PushEndpoint? Bind(ParseResult parse)
    {
        if (parse.GetValue(_pushUrl) is not { } url)
        {
            if (parse.GetResult(_pushSecret) is not null || parse.GetResult(_pushHeader) is not null || parse.GetResult(_pushTimeout) is not null || parse.GetResult(_pushConcurrency) is not null)
            {
                throw new CliException(2, "--push-secret, --push-header, --push-timeout and --push-concurrency need --push-url");
            }

            return null;
        }

        var secrets = parse.GetValue(_pushSecret) ?? [];
        if (secrets.Length == 0)
        {
            MadeSecret = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
            secrets = [MadeSecret];
        }

        var headers = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        foreach (var pair in parse.GetValue(_pushHeader) ?? [])
        {
            var split = pair.IndexOf('=', StringComparison.Ordinal);
            if (split <= 0)
            {
                throw new CliException(2, $"--push-header '{pair}': write NAME=VALUE");
            }

            headers[pair[..split].Trim()] = pair[(split + 1)..];
        }

        var endpoint = new PushEndpoint { Url = url, Secrets = secrets, Payload = parse.GetValue(_pushPayload), Headers = headers.Count > 0 ? headers : null };
        return endpoint with
        {
            Timeout = Duration.Parse(parse.GetValue(_pushTimeout), "--push-timeout") ?? endpoint.Timeout,
            MaxConcurrency = parse.GetValue(_pushConcurrency) ?? endpoint.MaxConcurrency,
        };
    }

    /// <summary>Shows a made push secret once, on standard error, so the receiver can be given it.</summary>
    public void ShowMadeSecret()
    {
        if (MadeSecret is not null)
        {
            Console.Error.WriteLine($"push secret (give it to the receiver to check Broker-Signature; it is not shown again): {MadeSecret}");
        }
    }
}
