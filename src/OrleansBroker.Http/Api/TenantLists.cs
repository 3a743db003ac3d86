using Microsoft.AspNetCore.Http;
using OrleansBroker.Client;
using OrleansBroker.Errors;
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

    /// <summary>The figures of <paramref name="queues"/>, in order; a queue deleted since it was listed is left out.</summary>
    public static async Task<List<QueueInfo>> QueueInfosAsync(IBrokerAdministrationClient admin, IEnumerable<string> queues, CancellationToken cancellationToken)
    {
        var infos = await Task.WhenAll(queues.Select(async name =>
        {
            try
            {
                return await admin.GetQueueInfoAsync(name, cancellationToken);
            }
            catch (BrokerException error) when (error.Code == BrokerErrorCode.QueueNotFound)
            {
                return null;
            }
        }));
        return [.. infos.OfType<QueueInfo>()];
    }
}
