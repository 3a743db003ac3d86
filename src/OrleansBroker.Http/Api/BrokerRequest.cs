using Microsoft.AspNetCore.Http;
using OrleansBroker.Http.Security;
using OrleansBroker.Identity;

namespace OrleansBroker.Http.Api;

/// <summary>
/// What a request addresses: its tenant (the <c>Broker-Tenant</c> header, else the caller's home tenant) and the name in its
/// route, and the name of that inside the cluster.
/// </summary>
internal static class BrokerRequest
{
    /// <summary>Request header that picks the tenant a request acts in.</summary>
    public const string TenantHeader = "Broker-Tenant";

    public static string Tenant(HttpContext http)
    {
        if (http.Items.TryGetValue(TenantHeader, out var known) && known is string resolved)
        {
            return resolved;
        }

        var tenant = http.Request.Headers.TryGetValue(TenantHeader, out var header) ? header.ToString()
            : http.User.Identity is BrokerIdentity identity ? identity.Principal.Access.Tenant
            : Tenants.Default;
        Tenants.Validate(tenant);
        http.Items[TenantHeader] = tenant;
        return tenant;
    }

    /// <summary>The request's tenant for a message (as the request named it; the default one called so).</summary>
    public static string DisplayTenant(HttpContext http)
    {
        var tenant = http.Items.TryGetValue(TenantHeader, out var resolved) && resolved is string known ? known : http.Request.Headers[TenantHeader].ToString();
        return tenant.Length == 0 ? "(default)" : tenant;
    }

    /// <summary>
    /// The tenant's own name the route addresses: <c>{queue}</c> (percent-decoded, so <c>orders%2Fsub</c> is a subscription's
    /// queue), <c>{topic}/{subscription}</c>, or <c>{topic}</c>; null on routes without one.
    /// </summary>
    public static string? AddressedName(HttpContext http)
    {
        var values = http.Request.RouteValues;
        if (values.TryGetValue("queue", out var queue) && queue is string q)
        {
            return Uri.UnescapeDataString(q);
        }

        if (values.TryGetValue("topic", out var topic) && topic is string t)
        {
            return values.TryGetValue("subscription", out var subscription) && subscription is string s ? $"{t}/{s}" : t;
        }

        return null;
    }

    /// <summary>The route's name inside the cluster: checked against the naming rules, qualified with the tenant.</summary>
    public static string QualifiedName(HttpContext http) =>
        TenantNames.Qualify(Tenant(http), AddressedName(http) ?? throw new InvalidOperationException("The route names no queue or topic."),
            $"the {TenantHeader} header");
}
