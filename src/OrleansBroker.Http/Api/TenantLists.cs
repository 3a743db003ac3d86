using Microsoft.AspNetCore.Http;
using OrleansBroker.Http.Security;
using OrleansBroker.Identity;

namespace OrleansBroker.Http.Api;

/// <summary>What lists show a caller: the names of its request's tenant it may manage.</summary>
internal static class TenantLists
{
    /// <summary>The names inside the cluster, of <paramref name="all"/>, in the request's tenant that the caller may manage.</summary>
    public static List<string> Manageable(HttpContext http, IEnumerable<string> all)
    {
        var tenant = BrokerRequest.Tenant(http);
        var access = ((BrokerIdentity)http.User.Identity!).Principal.Access;
        return [.. all.Where(name => Tenants.Owns(tenant, name) && access.Allows(tenant, Operation.Manage, TenantNames.Own(name)))];
    }
}
