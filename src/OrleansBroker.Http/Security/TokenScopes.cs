using System.Security.Claims;
using OrleansBroker.Identity;

namespace OrleansBroker.Http.Security;

/// <summary>
/// What a token's scopes allow, in RabbitMQ's OAuth 2 style: <c>obroker.manage:TENANT/PATTERN</c>,
/// <c>obroker.send:TENANT/PATTERN</c>, <c>obroker.receive:TENANT/PATTERN</c> (several of one kind in one tenant are
/// alternatives) and <c>obroker.administrator</c>. Scopes come from the <c>scope</c> claim (space-separated) or
/// <c>scp</c> claims. The home tenant is the <c>obroker_tenant</c> claim, else the first tenant named. Other scopes are ignored.
/// </summary>
internal static class TokenScopes
{
    public const string Prefix = "obroker.";
    public const string TenantClaim = "obroker_tenant";

    /// <summary>The principal a validated token stands for; its name from <c>sub</c> (or <c>preferred_username</c>).</summary>
    public static PrincipalInfo ToPrincipal(ClaimsIdentity identity, DateTimeOffset now)
    {
        var name = identity.FindFirst("preferred_username")?.Value ?? identity.FindFirst("sub")?.Value ?? identity.FindFirst(ClaimTypes.NameIdentifier)?.Value ?? "token";
        var scopes = identity.FindAll("scope").Concat(identity.FindAll("scp")).SelectMany(c => c.Value.Split(' ', StringSplitOptions.RemoveEmptyEntries));
        return new PrincipalInfo(name, PrincipalKind.Token, Access(scopes, identity.FindFirst(TenantClaim)?.Value), now);
    }

    public static PrincipalAccess Access(IEnumerable<string> scopes, string? homeTenant)
    {
        var administrator = false;
        var grants = new Dictionary<string, (List<string> Manage, List<string> Send, List<string> Receive)>(StringComparer.Ordinal);
        foreach (var scope in scopes)
        {
            if (scope == Prefix + "administrator")
            {
                administrator = true;
                continue;
            }

            var colon = scope.IndexOf(':', StringComparison.Ordinal);
            var slash = scope.IndexOf('/', colon + 1);
            if (!scope.StartsWith(Prefix, StringComparison.Ordinal) || colon < 0 || slash < 0)
            {
                continue;
            }

            var (operation, tenant, pattern) = (scope[Prefix.Length..colon], scope[(colon + 1)..slash], scope[(slash + 1)..]);
            if (operation is not ("manage" or "send" or "receive") || Tenants.Explain(tenant) is not null
                || pattern.Length == 0 || pattern.Length > NamePattern.MaxLength || pattern.Contains('|', StringComparison.Ordinal))
            {
                continue;
            }

            if (!grants.TryGetValue(tenant, out var grant))
            {
                grants[tenant] = grant = ([], [], []);
            }

            (operation == "manage" ? grant.Manage : operation == "send" ? grant.Send : grant.Receive).Add(pattern);
        }

        var permissions = grants.Select(g => new TenantPermission(g.Key, string.Join('|', g.Value.Manage), string.Join('|', g.Value.Send), string.Join('|', g.Value.Receive))).ToList();
        var home = homeTenant is not null && Tenants.Explain(homeTenant) is null ? homeTenant : permissions.FirstOrDefault()?.Tenant ?? Tenants.Default;
        return new PrincipalAccess(home, permissions, administrator);
    }
}
