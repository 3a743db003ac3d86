namespace OrleansBroker.Identity;

/// <summary>
/// What a principal may do in one tenant, in RabbitMQ's model: three name patterns (<see cref="NamePattern"/>: <c>*</c>
/// matches any run of characters, so <c>*</c> is every name, <c>orders.*</c> a family, the empty pattern none). Names are
/// the tenant's own (without the tenant prefix); a subscription's queue is <c>topic/subscription</c>.
/// </summary>
/// <param name="Tenant">The tenant (<see cref="Tenants.Default"/> for the default).</param>
/// <param name="Manage">Queues and topics it may create, change, purge, delete, peek and redrive, and see in lists.</param>
/// <param name="Send">Queues and topics it may publish to.</param>
/// <param name="Receive">Queues (subscription queues included) it may receive from and settle.</param>
[GenerateSerializer, Immutable, Alias("ob.tenant-permission")]
public sealed record TenantPermission(
    [property: Id(0)] string Tenant,
    [property: Id(1)] string Manage = "",
    [property: Id(2)] string Send = "",
    [property: Id(3)] string Receive = "");

/// <summary>The operations a <see cref="TenantPermission"/> grants, one pattern each.</summary>
public enum Operation
{
    /// <summary>Create, change, purge, delete, peek, redrive; list.</summary>
    Manage = 1,

    /// <summary>Publish.</summary>
    Send = 2,

    /// <summary>Receive and settle.</summary>
    Receive = 3,
}
