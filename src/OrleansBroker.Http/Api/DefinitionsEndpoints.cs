using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Http.Security;
using OrleansBroker.Identity;
using OrleansBroker.Queues;
using OrleansBroker.Server.Identity;
using OrleansBroker.Topics;

namespace OrleansBroker.Http.Api;

/// <summary>
/// A broker's layout as one JSON file, as RabbitMQ's definitions: every tenant's queues, topics with their subscriptions,
/// and the principals with their permissions (and password or key hashes, never secrets). Import merges: what is missing is
/// made, what exists the same is left, what exists otherwise is reported and left as it is. Administrators only.
/// </summary>
internal static class DefinitionsEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        var definitions = api.MapGroup("/definitions").RequireAuthorization(Policies.Administrator).WithTags("definitions");
        definitions.MapGet("", ExportAsync);
        definitions.MapPost("", ImportAsync).Accepts<Definitions>("application/json");
    }

    private static async Task<Ok<Definitions>> ExportAsync(HttpContext http, IBrokerAdministrationClient admin, IdentityDirectory identity)
    {
        var cancellationToken = http.RequestAborted;
        var queueNames = (await admin.ListQueuesAsync(cancellationToken)).Where(name => !QueueName.IsSubscriptionQueue(name));
        var queues = (await admin.GetQueueInfosAsync(queueNames, cancellationToken))
            .Select(info => new QueueDefinition(Tenants.Split(info.Name).Tenant, TenantNames.Own(info.Name), TenantNames.Own(info.Options)));
        var topics = new List<TopicDefinition>();
        foreach (var name in await admin.ListTopicsAsync(cancellationToken))
        {
            try
            {
                var info = TenantNames.Own(await admin.GetTopicInfoAsync(name, cancellationToken));
                topics.Add(new TopicDefinition(Tenants.Split(name).Tenant, info.Name, info.Options ?? new TopicOptions(), [.. info.Subscriptions]));
            }
            catch (BrokerException error) when (error.Code == BrokerErrorCode.TopicNotFound)
            {
                // Deleted since it was listed.
            }
        }

        return TypedResults.Ok(new Definitions([.. queues], [.. topics], [.. await identity.ExportAsync(cancellationToken)]));
    }

    /// <summary>Checks every entry first (nothing is made when one is malformed: 400), then makes what is missing.</summary>
    private static async Task<Ok<ImportResult>> ImportAsync(HttpContext http, IBrokerAdministrationClient admin, IdentityDirectory identity)
    {
        var definitions = await JsonBodies.ReadAsync<Definitions>(http.Request, "definitions", BrokerErrorCode.InvalidOptions);
        var queues = (definitions.Queues ?? []).Select(q => (Name: Qualified(q.Tenant, q.Name), Options: Qualified(q.Tenant, q.Options ?? new QueueOptions()))).ToList();
        var topics = (definitions.Topics ?? []).Select(t => (Name: Qualified(t.Tenant, t.Name), t.Options, Subscriptions: (t.Subscriptions ?? [])
            .Select(s => s with { Queue = Qualified(t.Tenant, s.Queue ?? new QueueOptions()) }).ToList())).ToList();
        foreach (var (name, options) in queues)
        {
            options.Validate(name);
        }

        foreach (var principal in definitions.Principals ?? [])
        {
            principal.Validate();
        }

        var result = new ImportResult();
        var cancellationToken = http.RequestAborted;
        foreach (var (name, options) in queues)
        {
            await ApplyAsync(result, $"queue '{name}'", () => admin.CreateQueueAsync(name, options, cancellationToken));
        }

        foreach (var (name, options, subscriptions) in topics)
        {
            if (await ApplyAsync(result, $"topic '{name}'", () => admin.CreateTopicAsync(name, options ?? new TopicOptions(), cancellationToken)))
            {
                foreach (var subscription in subscriptions)
                {
                    await ApplyAsync(result, $"subscription '{name}/{subscription.Name}'", () => admin.CreateSubscriptionAsync(name, subscription, null, cancellationToken));
                }
            }
        }

        foreach (var principal in definitions.Principals ?? [])
        {
            if (await identity.ImportAsync(principal, cancellationToken))
            {
                result.Made++;
            }
            else
            {
                result.Kept.Add($"principal '{principal.Name}' exists: kept as it is");
            }
        }

        return TypedResults.Ok(result);
    }

    /// <summary>Makes one entry, or confirms it exists the same; one that exists otherwise is reported and left.</summary>
    private static async Task<bool> ApplyAsync(ImportResult result, string what, Func<Task> make)
    {
        try
        {
            await make();
            result.Made++;
            return true;
        }
        catch (BrokerException error) when (error.Code is BrokerErrorCode.QueueExistsWithOtherOptions or BrokerErrorCode.InvalidOptions or BrokerErrorCode.InvalidFilter)
        {
            result.Kept.Add($"{what}: {error.Message}");
            return false;
        }
    }

    private static string Qualified(string? tenant, string name) => TenantNames.Qualify(tenant ?? Tenants.Default, name, "the entry's tenant field");

    private static QueueOptions Qualified(string? tenant, QueueOptions options) => TenantNames.Qualify(tenant ?? Tenants.Default, options, "the entry's tenant field");
}

/// <summary>A broker's layout: what <c>GET /api/definitions</c> gives and <c>POST /api/definitions</c> takes.</summary>
internal sealed record Definitions(QueueDefinition[]? Queues = null, TopicDefinition[]? Topics = null, PrincipalDefinition[]? Principals = null);

/// <summary>A queue of a tenant (the default one: <c>""</c>) with its options; dead-letter queues included.</summary>
internal sealed record QueueDefinition(string? Tenant, string Name, QueueOptions? Options = null);

/// <summary>A topic of a tenant with its options and subscriptions.</summary>
internal sealed record TopicDefinition(string? Tenant, string Name, TopicOptions? Options = null, Subscription[]? Subscriptions = null);

/// <summary>What an import did: how many entries it made or found the same, and those it left because they exist otherwise.</summary>
internal sealed class ImportResult
{
    public int Made { get; set; }

    public List<string> Kept { get; } = [];
}
