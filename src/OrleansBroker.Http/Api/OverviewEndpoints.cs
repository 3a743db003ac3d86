using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using OrleansBroker.Client;
using OrleansBroker.Http.Security;

namespace OrleansBroker.Http.Api;

/// <summary><c>GET /api/overview</c>: the tenant at a glance (RabbitMQ's overview): queues, topics, messages, counters, rates, silos.</summary>
internal static class OverviewEndpoints
{
    public static void Map(RouteGroupBuilder api) => api.MapGet("/overview", GetAsync).RequireAuthorization(Policies.Tenant).WithTags("overview");

    private static async Task<Ok<Overview>> GetAsync(HttpContext http, IBrokerAdministrationClient admin, IClusterMembershipService membership, QueueRates rates)
    {
        var queues = TenantLists.Manageable(http, await admin.ListQueuesAsync(http.RequestAborted));
        var topics = TenantLists.Manageable(http, await admin.ListTopicsAsync(http.RequestAborted)).Count;
        var infos = await admin.GetQueueInfosAsync(queues, http.RequestAborted);
        var observed = infos.Select(rates.Observe).ToList();
        var silos = membership.CurrentSnapshot.Members.Values.Select(SiloSummary.Of).OrderBy(s => s.Address, StringComparer.Ordinal).ToArray();
        return TypedResults.Ok(new Overview(
            BrokerRequest.Tenant(http),
            queues.Count,
            topics,
            new MessageTotals(infos.Sum(i => i.Ready), infos.Sum(i => i.InFlight), infos.Sum(i => i.Delayed), infos.Sum(i => i.Bytes)),
            new CounterTotals(infos.Sum(i => i.Counters.Published), infos.Sum(i => i.Counters.Delivered), infos.Sum(i => i.Counters.Redelivered),
                infos.Sum(i => i.Counters.Acked), infos.Sum(i => i.Counters.DeadLettered), infos.Sum(i => i.Counters.Expired)),
            observed.Count > 0 && observed.All(r => r is not null) ? MessageRates.Sum(observed!) : null,
            silos));
    }
}

/// <summary>The answer of <c>GET /api/overview</c>: over the queues and topics of the tenant the caller may manage.</summary>
/// <remarks><c>rates</c>: messages per second since this silo's previous reading of every queue (null until there is one for all).</remarks>
internal sealed record Overview(string Tenant, int Queues, int Topics, MessageTotals Messages, CounterTotals Counters, MessageRates? Rates, SiloSummary[] Silos);

internal sealed record MessageTotals(long Ready, long InFlight, long Delayed, long Bytes);

internal sealed record CounterTotals(long Published, long Delivered, long Redelivered, long Acked, long DeadLettered, long Expired);

/// <summary>A silo of the cluster as membership sees it: <c>active</c>, <c>joining</c>, <c>shuttingdown</c>, <c>dead</c>...</summary>
internal sealed record SiloSummary(string Name, string Address, string Status)
{
    /// <summary>A member as every answer names a silo (the address as queue partitions name their silo).</summary>
    public static SiloSummary Of(ClusterMember member) => new(member.Name, member.SiloAddress.ToString(), member.Status.ToString().ToLowerInvariant());
}
