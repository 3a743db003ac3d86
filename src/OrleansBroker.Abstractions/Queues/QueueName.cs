using OrleansBroker.Errors;

namespace OrleansBroker.Queues;

/// <summary>
/// Queue naming rules: 1 to <see cref="BrokerLimits.MaxNameLength"/> characters of ASCII letters,
/// digits, '.', '-' and '_', starting with a letter or digit. Names are case-sensitive. A topic
/// subscription's queue is <c>&lt;topic&gt;/&lt;subscription&gt;</c>: two such names joined by one '/',
/// created by subscribing, never directly. A partition of a partitioned queue is <c>&lt;queue&gt;~&lt;index&gt;</c>
/// (see <see cref="QueuePartitions"/>), created with its queue. A queue of a tenant other than the default is
/// <c>&lt;tenant&gt;@&lt;name&gt;</c> inside the cluster (see <see cref="Identity.Tenants"/>).
/// </summary>
public static class QueueName
{
    /// <summary>Suffix of a queue's default dead-letter queue.</summary>
    public const string DeadLetterSuffix = ".dlq";

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidName"/>) if <paramref name="name"/> breaks the rules.</summary>
    public static void Validate(string? name)
    {
        if (Explain(name) is { } problem)
        {
            throw new BrokerException(BrokerErrorCode.InvalidName, problem);
        }
    }

    /// <summary>Why <paramref name="name"/> is not a valid queue name, or <see langword="null"/> if it is.</summary>
    public static string? Explain(string? name)
    {
        if (name is not null && name.Contains(Identity.Tenants.Separator, StringComparison.Ordinal))
        {
            var (tenant, own) = Identity.Tenants.Split(name);
            return tenant.Length == 0 ? $"Queue name '{name}' has an empty tenant before '{Identity.Tenants.Separator}'."
                : own.Contains(Identity.Tenants.Separator, StringComparison.Ordinal) ? $"Queue name '{name}' has more than one '{Identity.Tenants.Separator}'."
                : Identity.Tenants.Explain(tenant) ?? Explain(own);
        }

        if (name is not null && QueuePartitions.Parse(name) is (var queue, > 0))
        {
            return Explain(queue);
        }

        var slash = name?.IndexOf('/', StringComparison.Ordinal) ?? -1;
        if (slash >= 0 && name!.Length <= BrokerLimits.MaxNameLength)
        {
            return ExplainPart(name[..slash]) is { } topic ? $"Subscription queue '{name}': {topic}"
                : ExplainPart(name[(slash + 1)..]) is { } subscription ? $"Subscription queue '{name}': {subscription}"
                : null;
        }

        return ExplainPart(name);
    }

    /// <summary>Whether <paramref name="name"/> is a topic subscription's queue (<c>topic/subscription</c>).</summary>
    public static bool IsSubscriptionQueue(string name) => name.Contains('/', StringComparison.Ordinal);

    private static string? ExplainPart(string? name)
    {
        if (string.IsNullOrEmpty(name))
        {
            return "Queue name is empty.";
        }

        if (name.Length > BrokerLimits.MaxNameLength)
        {
            return $"Queue name is {name.Length} characters; the limit is {BrokerLimits.MaxNameLength}.";
        }

        if (!char.IsAsciiLetterOrDigit(name[0]))
        {
            return $"Queue name '{name}' must start with a letter or digit.";
        }

        foreach (var c in name)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '-' or '_'))
            {
                return $"Queue name '{name}' has '{c}'; allowed are ASCII letters, digits, '.', '-' and '_'.";
            }
        }

        return null;
    }

    /// <summary>The default dead-letter queue name for <paramref name="queue"/>: <c>&lt;queue&gt;.dlq</c>.</summary>
    public static string DefaultDeadLetterQueue(string queue) => queue + DeadLetterSuffix;
}
