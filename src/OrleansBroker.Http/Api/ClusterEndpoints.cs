using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using OrleansBroker.Client;
using OrleansBroker.Http.Security;
using OrleansBroker.Queues;

namespace OrleansBroker.Http.Api;

/// <summary>
/// <c>GET /api/cluster</c>: the silos as membership sees them and, on each, the queues and partitions of the tenant that
/// the caller may manage and that are active there now (from Orleans' own activation lists; nothing is activated to
/// answer). A queue idle long enough to be deactivated is on no silo until its next call.
/// </summary>
internal static class ClusterEndpoints
{
    private static readonly GrainType QueueGrainType = GrainType.Create("queue");

    public static void Map(RouteGroupBuilder api) => api.MapGet("/cluster", GetAsync).RequireAuthorization(Policies.Tenant).WithTags("overview");

    private static async Task<Ok<ClusterView>> GetAsync(HttpContext http, IBrokerAdministrationClient admin, IClusterMembershipService membership, IGrainFactory grains)
    {
        var manageable = TenantLists.Manageable(http, await admin.ListQueuesAsync(http.RequestAborted)).ToHashSet(StringComparer.Ordinal);
        var members = membership.CurrentSnapshot.Members.Values.ToList();
        var active = members.Where(m => m.Status == SiloStatus.Active).Select(m => m.SiloAddress).ToArray();
        var activations = active.Length == 0 ? [] : await grains.GetGrain<IManagementGrain>(0).GetDetailedGrainStatistics(hostsIds: active);
        var hosted = activations
            .Where(a => a.GrainId.Type.Equals(QueueGrainType))
            .Select(a => (a.SiloAddress, Parsed: QueuePartitions.Parse(a.GrainId.Key.ToString()!)))
            .Where(a => manageable.Contains(a.Parsed.Queue))
            .ToLookup(a => a.SiloAddress);
        var silos = members
            .Select(m => (Silo: SiloSummary.Of(m), Hosted: hosted[m.SiloAddress]))
            .Select(m => new ClusterSilo(m.Silo.Name, m.Silo.Address, m.Silo.Status,
                [.. m.Hosted.Select(a => new HostedPartition(TenantNames.Own(a.Parsed.Queue), a.Parsed.Index)).OrderBy(p => p.Queue, StringComparer.Ordinal).ThenBy(p => p.Partition)]))
            .OrderBy(s => s.Address, StringComparer.Ordinal)
            .ToArray();
        return TypedResults.Ok(new ClusterView(silos));
    }
}

/// <summary>The answer of <c>GET /api/cluster</c>.</summary>
internal sealed record ClusterView(ClusterSilo[] Silos);

/// <summary>A silo: its name, address, membership status and the queue partitions active on it (partition 0 is a queue of one partition, or the first).</summary>
internal sealed record ClusterSilo(string Name, string Address, string Status, HostedPartition[] Partitions);

/// <summary>A queue's partition active on a silo.</summary>
internal sealed record HostedPartition(string Queue, int Partition);
