using Microsoft.AspNetCore.Http;
using OrleansBroker.Client;
using OrleansBroker.Http.Security;
using OrleansBroker.Identity;
using OrleansBroker.Queues;

namespace OrleansBroker.Http.Api;

/// <summary>What lists show a caller: the names of its request's tenant it may manage, and those queues' figures.</summary>
internal static class TenantLists
{
    /// <summary>The names inside the cluster, of <paramref name="all"/>, in the request's tenant that the caller may manage.</summary>
    public static List<string> Manageable(HttpContext http, IEnumerable<string> all)
    {
        var tenant = BrokerRequest.Tenant(http);
        var access = ((BrokerIdentity)http.User.Identity!).Principal.Access;
        return [.. all.Where(name => Tenants.Owns(tenant, name) && access.Allows(tenant, Operation.Manage, TenantNames.Own(name)))];
    }

    /// <summary>
    /// The figures of <paramref name="queues"/>, in order; a queue deleted since it was listed is left out. Queues not in memory
    /// are answered from storage, not loaded: a refresh of a list does not bring every idle queue back.
    /// </summary>
    public static Task<IReadOnlyList<QueueInfo>> QueueInfosAsync(IBrokerAdministrationClient admin, IEnumerable<string> queues, CancellationToken cancellationToken) =>
        admin.GetQueueInfosAsync(queues, cancellationToken);
}
