using OrleansBroker.Errors;

namespace OrleansBroker.Identity;

/// <summary>
/// Tenants are namespaces of queues and topics (RabbitMQ calls them virtual hosts): two tenants' <c>orders</c> are two queues,
/// and a principal of one tenant can neither see nor touch another's. The default tenant (<see cref="Default"/>, the empty
/// name) keeps plain names. Another tenant's queue is named <c>&lt;tenant&gt;@&lt;name&gt;</c> inside the cluster (what the
/// Orleans gateway, which trusts its clients, shows), so every name derived from it (its dead-letter queue, partitions,
/// subscription queues) stays in the tenant. Tenant names follow the queue name rules, at most <see cref="MaxNameLength"/> characters.
/// </summary>
public static class Tenants
{
    /// <summary>The default tenant: names without a tenant prefix.</summary>
    public const string Default = "";

    /// <summary>Separates a tenant from a name inside the cluster.</summary>
    public const char Separator = '@';

    /// <summary>Longest tenant name: 64 characters.</summary>
    public const int MaxNameLength = 64;

    /// <summary>The name inside the cluster of <paramref name="name"/> in <paramref name="tenant"/>.</summary>
    public static string Qualify(string tenant, string name) => tenant.Length == 0 ? name : string.Concat(tenant, "@", name);

    /// <summary>The tenant and the tenant's own name of a name inside the cluster.</summary>
    public static (string Tenant, string Name) Split(string qualified)
    {
        var at = qualified.IndexOf(Separator, StringComparison.Ordinal);
        return at < 0 ? (Default, qualified) : (qualified[..at], qualified[(at + 1)..]);
    }

    /// <summary>Whether the name inside the cluster <paramref name="qualified"/> belongs to <paramref name="tenant"/>.</summary>
    public static bool Owns(string tenant, string qualified) => Split(qualified).Tenant == tenant;

    /// <summary>Why <paramref name="tenant"/> is not a valid tenant name, or <see langword="null"/> if it is (the empty default included).</summary>
    public static string? Explain(string? tenant)
    {
        if (tenant is null)
        {
            return "Tenant name is missing.";
        }

        if (tenant.Length > MaxNameLength)
        {
            return $"Tenant name is {tenant.Length} characters; the limit is {MaxNameLength}.";
        }

        if (tenant.Length > 0 && !char.IsAsciiLetterOrDigit(tenant[0]))
        {
            return $"Tenant name '{tenant}' must start with a letter or digit.";
        }

        foreach (var c in tenant)
        {
            if (!char.IsAsciiLetterOrDigit(c) && c is not ('.' or '-' or '_'))
            {
                return $"Tenant name '{tenant}' has '{c}'; allowed are ASCII letters, digits, '.', '-' and '_'.";
            }
        }

        return null;
    }

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidName"/>) if <paramref name="tenant"/> breaks the rules.</summary>
    public static void Validate(string? tenant)
    {
        if (Explain(tenant) is { } problem)
        {
            throw new BrokerException(BrokerErrorCode.InvalidName, problem);
        }
    }
}
