using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OrleansBroker.Server.Identity;
using OrleansBroker.Server.Storage;

namespace OrleansBroker.Http.Api;

/// <summary>
/// <c>/healthz</c>: the process answers (no checks). <c>/readyz</c>: this silo can serve: it is an active member of the
/// cluster, reaches the broker's grains (the identity store answers within 5 s), and its storage takes writes (no disk
/// alarm). 200 or 503, with each check and why in JSON, without signing in.
/// </summary>
internal static class BrokerHealth
{
    private const string Ready = "ready";

    public static void AddServices(IServiceCollection services) =>
        services.AddHealthChecks().AddCheck<ReadinessCheck>("broker", tags: [Ready]);

    public static void Map(WebApplication app)
    {
        app.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = WriteAsync }).AllowAnonymous();
        app.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = check => check.Tags.Contains(Ready), ResponseWriter = WriteAsync }).AllowAnonymous();
    }

    private static Task WriteAsync(HttpContext http, HealthReport report)
    {
        http.Response.ContentType = "application/json";
        var healthy = report.Status == HealthStatus.Healthy;
        return JsonSerializer.SerializeAsync(http.Response.Body, new
        {
            status = healthy ? (http.Request.Path == "/healthz" ? "ok" : "ready") : "unavailable",
            reason = healthy ? null : string.Join("; ", report.Entries.Values.Select(e => e.Description)),
            checks = report.Entries.Values.SelectMany(e => e.Data).ToDictionary(d => d.Key, d => d.Value, StringComparer.Ordinal),
        }, JsonBodies.Options, http.RequestAborted);
    }

    /// <summary>What <c>/readyz</c> checks, each with its finding in the answer.</summary>
    private sealed class ReadinessCheck(IClusterMembershipService membership, ILocalSiloDetails silo, IdentityDirectory identity, DiskSpaceAlarm disk) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var findings = new Dictionary<string, object>(StringComparer.Ordinal);
            var problems = new List<string>();
            var status = membership.CurrentSnapshot.GetSiloStatus(silo.SiloAddress);
            findings["membership"] = status.ToString().ToLowerInvariant();
            if (status != SiloStatus.Active)
            {
                problems.Add($"this silo is {status.ToString().ToLowerInvariant()} in the cluster, not active");
            }

            try
            {
                await identity.RefreshAsync().WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
                findings["grains"] = "reachable";
            }
            catch (Exception exception) when (exception is TimeoutException or OrleansException or Errors.BrokerException)
            {
                findings["grains"] = "unreachable";
                problems.Add($"the broker's grains do not answer: {exception.Message}");
            }

            findings["storage"] = disk.Reason is null ? "takes writes" : "refuses publishes";
            if (disk.Reason is { } reason)
            {
                problems.Add(reason);
            }

            return problems.Count == 0
                ? HealthCheckResult.Healthy(data: findings)
                : HealthCheckResult.Unhealthy(string.Join("; ", problems), data: findings);
        }
    }
}
