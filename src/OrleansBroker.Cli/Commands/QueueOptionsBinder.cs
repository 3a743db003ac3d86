using System.CommandLine;
using OrleansBroker.Queues;

namespace OrleansBroker.Cli.Commands;

/// <summary>Every <see cref="QueueOptions"/> setting as a command-line option: <c>queue create</c> and <c>topic subscribe</c> share them.</summary>
internal sealed class QueueOptionsBinder
{
    private readonly Option<double?> _lease = new("--lease-seconds") { Description = "Lease (visibility timeout) in seconds, 1 to 43200. Default 30." };
    private readonly Option<int?> _attempts = new("--max-attempts") { Description = "Deliveries before dead-lettering, 1 to 1000, or 0 for unlimited. Default 10." };
    private readonly Option<string?> _dlq = new("--dead-letter-queue") { Description = "Dead-letter queue name. Default <name>.dlq; empty for none (needs --max-attempts 0)." };
    private readonly Option<RetryKind> _retry = NamedValues.Option("--retry", "Backoff before a failed delivery comes back: immediate, fixed or exponential. Default immediate.", RetryKind.Immediate);
    private readonly Option<double?> _retryDelay = new("--retry-delay-seconds") { Description = "Fixed wait, or the first exponential one, in seconds (0 to 7 days). Default 1." };
    private readonly Option<double?> _retryMax = new("--retry-max-delay-seconds") { Description = "Cap of an exponential wait in seconds. Default 300." };
    private readonly Option<double?> _retryMultiplier = new("--retry-multiplier") { Description = "Growth of an exponential wait per attempt, 1 to 100. Default 2." };
    private readonly Option<double?> _retryJitter = new("--retry-jitter") { Description = "Random spread as a fraction of the wait, 0 to 1. Default 0." };
    private readonly Option<string?> _ttl = new("--ttl") { Description = "Default time to live of its messages (30s, 5m, 2h, 7d; at most 365 days). Default none." };
    private readonly Option<bool> _deadLetterExpired = new("--dead-letter-expired") { Description = "Expired messages go to the dead-letter queue instead of being dropped." };
    private readonly Option<string?> _dedup = new("--dedup-window") { Description = "A repeated message id within this window is accepted once (0 turns it off; at most 7 days). Default 10m." };
    private readonly Option<long?> _maxLength = new("--max-length") { Description = "Most messages the queue holds. Default no limit." };
    private readonly Option<long?> _maxBytes = new("--max-bytes") { Description = "Most body bytes the queue holds. Default no limit." };
    private readonly Option<int?> _partitions = new("--partitions") { Description = "Partitions (grains, spread over silos) the queue is split into, 1 to 64. Default 1." };
    private readonly Option<OverflowPolicy> _overflow = NamedValues.Option("--overflow",
        "At a limit: reject-publish (default), drop-oldest (RabbitMQ's drop-head) or dead-letter-oldest.", OverflowPolicy.RejectPublish,
        new Dictionary<string, OverflowPolicy> { ["drop-head"] = OverflowPolicy.DropOldest });

    private readonly PushOptionsBinder _push = new();

    public void AddTo(Command command)
    {
        foreach (var option in new Option[] { _lease, _attempts, _dlq, _retry, _retryDelay, _retryMax, _retryMultiplier, _retryJitter, _ttl, _deadLetterExpired, _dedup, _maxLength, _maxBytes, _overflow, _partitions,
        })
        {
            command.Options.Add(option);
        }

        _push.AddTo(command);
    }

    public QueueOptions Bind(ParseResult parse)
    {
        var defaults = new QueueOptions();
        var policy = new RetryPolicy();
        return new QueueOptions
        {
            LeaseDuration = parse.GetValue(_lease) is { } seconds ? TimeSpan.FromSeconds(seconds) : defaults.LeaseDuration,
            MaxDeliveryAttempts = parse.GetValue(_attempts) ?? defaults.MaxDeliveryAttempts,
            DeadLetterQueue = parse.GetValue(_dlq),
            Retry = new RetryPolicy
            {
                Kind = parse.GetValue(_retry),
                InitialDelay = parse.GetValue(_retryDelay) is { } initial ? TimeSpan.FromSeconds(initial) : policy.InitialDelay,
                MaxDelay = parse.GetValue(_retryMax) is { } cap ? TimeSpan.FromSeconds(cap) : policy.MaxDelay,
                Multiplier = parse.GetValue(_retryMultiplier) ?? policy.Multiplier,
                Jitter = parse.GetValue(_retryJitter) ?? policy.Jitter,
            },
            DefaultTimeToLive = Duration.Parse(parse.GetValue(_ttl), "--ttl"),
            DeadLetterExpired = parse.GetValue(_deadLetterExpired),
            DeduplicationWindow = Duration.Parse(parse.GetValue(_dedup), "--dedup-window") ?? defaults.DeduplicationWindow,
            MaxLength = parse.GetValue(_maxLength),
            MaxBytes = parse.GetValue(_maxBytes),
            Overflow = parse.GetValue(_overflow),
            Partitions = parse.GetValue(_partitions) ?? defaults.Partitions,
            Push = _push.Bind(parse),
        };
    }

    /// <summary>Shows a push secret made because none was given, once.</summary>
    public void ShowMadeSecret() => _push.ShowMadeSecret();
}
