using OrleansBroker.Identity;

namespace OrleansBroker.Amqp.Protocol;

/// <summary>What an AMQP address names.</summary>
internal enum AmqpNodeKind
{
    Queue,
    Topic,
    Subscription,
}

/// <summary>
/// An address in RabbitMQ 4's v2 format: <c>/queues/{queue}</c>, <c>/topics/{topic}</c>,
/// <c>/topics/{topic}/subscriptions/{subscription}</c>, each name percent-encoded. Names are the tenant's own; the broker
/// qualifies them with the connection's tenant.
/// </summary>
internal sealed record AmqpAddress(AmqpNodeKind Kind, string Name, string? Subscription = null)
{
    /// <summary>The name permissions are checked against: the queue, the topic, or <c>topic/subscription</c> (its queue).</summary>
    public string PermissionName => Kind == AmqpNodeKind.Subscription ? $"{Name}/{Subscription}" : Name;

    /// <summary>The node inside the cluster for <paramref name="tenant"/>: a queue, a topic or a subscription's queue.</summary>
    public string Qualified(string tenant) => Tenants.Qualify(tenant, PermissionName);

    public override string ToString() => Kind switch
    {
        AmqpNodeKind.Queue => $"/queues/{Uri.EscapeDataString(Name)}",
        AmqpNodeKind.Topic => $"/topics/{Uri.EscapeDataString(Name)}",
        _ => $"/topics/{Uri.EscapeDataString(Name)}/subscriptions/{Uri.EscapeDataString(Subscription!)}",
    };

    /// <summary>Reads <paramref name="address"/>; null with <paramref name="problem"/> when it is not one of the three forms.</summary>
    public static AmqpAddress? Parse(string? address, out string? problem)
    {
        problem = null;
        if (string.IsNullOrEmpty(address))
        {
            problem = "the link has no address; use /queues/{name}, /topics/{name} or /topics/{name}/subscriptions/{name}";
            return null;
        }

        var path = address.Split('?', 2)[0];
        var parts = path.Split('/');
        if (parts.Length < 3 || parts[0].Length != 0 || parts.Skip(1).Any(p => p.Length == 0))
        {
            problem = $"'{address}' is not an address; use /queues/{{name}}, /topics/{{name}} or /topics/{{name}}/subscriptions/{{name}}";
            return null;
        }

        string[] names;
        try
        {
            names = [.. parts.Skip(1).Select(Uri.UnescapeDataString)];
        }
        catch (UriFormatException)
        {
            problem = $"'{address}' is not percent-encoded correctly";
            return null;
        }

        var result = names switch
        {
            ["queues", var queue] => new AmqpAddress(AmqpNodeKind.Queue, queue),
            ["topics", var topic] => new AmqpAddress(AmqpNodeKind.Topic, topic),
            ["topics", var topic, "subscriptions", var subscription] => new AmqpAddress(AmqpNodeKind.Subscription, topic, subscription),
            _ => null,
        };
        if (result is null)
        {
            problem = $"'{address}' is not an address; use /queues/{{name}}, /topics/{{name}} or /topics/{{name}}/subscriptions/{{name}}";
        }
        else if (names.Any(n => n.Contains(Tenants.Separator, StringComparison.Ordinal)))
        {
            problem = $"'{address}': names in an address are the tenant's own and may not have '{Tenants.Separator}'";
            return null;
        }

        return result;
    }
}
