using OrleansBroker.Errors;
using OrleansBroker.Identity;
using OrleansBroker.Queues;
using OrleansBroker.Topics;

namespace OrleansBroker.Http.Api;

/// <summary>
/// The one mapping between a tenant's own names, as requests and answers carry them, and names inside the cluster
/// (<c>tenant@name</c>): of a queue or topic, and of the dead-letter queue its options name.
/// </summary>
internal static class TenantNames
{
    /// <summary>
    /// The name inside the cluster of <paramref name="name"/> in <paramref name="tenant"/>, checked against the naming rules. A
    /// name holding the separator is refused: the tenant is given apart from it (<paramref name="tenantGivenBy"/> says how).
    /// </summary>
    public static string Qualify(string tenant, string name, string tenantGivenBy)
    {
        Tenants.Validate(tenant);
        if (name.Contains(Tenants.Separator, StringComparison.Ordinal))
        {
            throw new BrokerException(BrokerErrorCode.InvalidName, $"Name '{name}' has '{Tenants.Separator}'; give the tenant with {tenantGivenBy}.");
        }

        var qualified = Tenants.Qualify(tenant, name);
        QueueName.Validate(qualified);
        return qualified;
    }

    /// <summary>Options with the dead-letter queue they name taken as a queue of <paramref name="tenant"/>.</summary>
    public static QueueOptions Qualify(string tenant, QueueOptions options, string tenantGivenBy) =>
        options.DeadLetterQueue is { Length: > 0 } deadLetters ? options with { DeadLetterQueue = Qualify(tenant, deadLetters, tenantGivenBy) } : options;

    /// <summary>The tenant's own name of a name inside the cluster.</summary>
    public static string Own(string qualified) => Tenants.Split(qualified).Name;

    /// <summary>Options with the tenant's own name of the dead-letter queue.</summary>
    public static QueueOptions Own(QueueOptions options) =>
        options.DeadLetterQueue is { Length: > 0 } deadLetters ? options with { DeadLetterQueue = Own(deadLetters) } : options;

    /// <summary>A queue's figures with the tenant's own names (queue, dead-letter queue, partitions).</summary>
    public static QueueInfo Own(QueueInfo info) => info with
    {
        Name = Own(info.Name),
        Options = Own(info.Options),
        Partitions = info.Partitions is { } partitions ? [.. partitions.Select(p => p with { Name = Own(p.Name) })] : null,
    };

    /// <summary>A topic with the tenant's own names (topic, its subscriptions' dead-letter queues).</summary>
    public static TopicInfo Own(TopicInfo info) => info with
    {
        Name = Own(info.Name),
        Subscriptions = [.. info.Subscriptions.Select(s => s with { Queue = Own(s.Queue) })],
    };
}
