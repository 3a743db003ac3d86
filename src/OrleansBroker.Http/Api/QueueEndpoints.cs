using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Http.Security;
using OrleansBroker.Identity;
using OrleansBroker.Queues;

namespace OrleansBroker.Http.Api;

/// <summary>Queue management, in the shape of RabbitMQ's management API: list, create, show, purge, delete, peek, redrive.</summary>
internal static class QueueEndpoints
{
    public static void Map(RouteGroupBuilder queues, RouteGroupBuilder queue)
    {
        queues.MapGet("", ListAsync).RequireAuthorization(Policies.Tenant);
        queue.MapPut("", CreateAsync).RequireAuthorization(Policies.Manage).Accepts<QueueOptions>("application/json");
        queue.MapGet("", GetAsync).RequireAuthorization(Policies.Manage);
        queue.MapDelete("", DeleteAsync).RequireAuthorization(Policies.Manage);
        queue.MapPost("/purge", PurgeAsync).RequireAuthorization(Policies.Manage);
        queue.MapGet("/messages", PeekAsync).RequireAuthorization(Policies.Manage);
        queue.MapPost("/redrive", RedriveAsync).RequireAuthorization(Policies.Manage).Accepts<RedriveRequest>("application/json");
    }

    /// <summary>The tenant's queues the caller may manage, with their figures, by name.</summary>
    private static async Task<Ok<QueueSummary[]>> ListAsync(HttpContext http, IBrokerAdministrationClient admin, QueueRates rates)
    {
        var queues = TenantLists.Manageable(http, await admin.ListQueuesAsync(http.RequestAborted));
        return TypedResults.Ok((await TenantLists.QueueInfosAsync(admin, queues, http.RequestAborted)).Select(info => QueueSummary.Of(info, rates)).ToArray());
    }

    /// <summary>Creates the queue with the options in the body (<c>{}</c> for the defaults), or confirms it exists with them: 200 either way.</summary>
    private static async Task<Ok<QueueSummary>> CreateAsync(HttpContext http, IBrokerAdministrationClient admin, QueueRates rates)
    {
        var queue = BrokerRequest.QualifiedName(http);
        var options = Qualified(http, await JsonBodies.ReadAsync<QueueOptions>(http.Request, "queue options ({} for the defaults)", BrokerErrorCode.InvalidOptions));
        return TypedResults.Ok(QueueSummary.Of(await admin.CreateQueueAsync(queue, options, http.RequestAborted), rates));
    }

    private static async Task<Ok<QueueSummary>> GetAsync(HttpContext http, IBrokerAdministrationClient admin, QueueRates rates) =>
        TypedResults.Ok(QueueSummary.Of(await admin.GetQueueInfoAsync(BrokerRequest.QualifiedName(http), http.RequestAborted), rates));

    private static async Task<NoContent> DeleteAsync(HttpContext http, IBrokerAdministrationClient admin)
    {
        var queue = BrokerRequest.QualifiedName(http);
        await admin.GetQueueInfoAsync(queue, http.RequestAborted);
        await admin.DeleteQueueAsync(queue, http.RequestAborted);
        return TypedResults.NoContent();
    }

    private static async Task<Ok<PurgeResult>> PurgeAsync(HttpContext http, IBrokerAdministrationClient admin) =>
        TypedResults.Ok(new PurgeResult(await admin.PurgeQueueAsync(BrokerRequest.QualifiedName(http), http.RequestAborted)));

    /// <summary><c>?after=</c> sequence (default 0) and <c>max=</c> (default 100, up to 1000): messages in order, nothing consumed.</summary>
    private static async Task<Ok<JsonPeeked[]>> PeekAsync(HttpContext http, IBrokerClient broker)
    {
        var queue = BrokerRequest.QualifiedName(http);
        var after = http.Request.Query.TryGetValue("after", out var text) && long.TryParse(text.ToString(), out var sequence) ? sequence
            : text.Count > 0 ? throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Query parameter after: '{MessageHeaders.Clip(text.ToString())}' is not a sequence number.")
            : 0;
        var messages = await broker.PeekAsync(queue, after, MessageHeaders.QueryInteger(http.Request, "max") ?? 100, http.RequestAborted);
        return TypedResults.Ok(messages.Select(JsonPeeked.From).ToArray());
    }

    /// <summary>Body (optional): <c>{"max": N}</c> or <c>{"messageIds": [...]}</c>; none moves every ready dead letter back.</summary>
    private static async Task<Ok<RedriveResult>> RedriveAsync(HttpContext http, IBrokerAdministrationClient admin)
    {
        var queue = BrokerRequest.QualifiedName(http);
        var request = http.Request.ContentLength is null or 0 && !http.Request.HasJsonContentType()
            ? null
            : await JsonBodies.ReadAsync<RedriveRequest>(http.Request, "a redrive request", BrokerErrorCode.InvalidOptions);
        return TypedResults.Ok(await admin.RedriveAsync(queue, request, http.RequestAborted));
    }

    /// <summary>Options with the dead-letter queue named inside the tenant.</summary>
    public static QueueOptions Qualified(HttpContext http, QueueOptions options)
    {
        if (options.DeadLetterQueue is not { Length: > 0 } deadLetters)
        {
            return options;
        }

        if (deadLetters.Contains(Tenants.Separator, StringComparison.Ordinal))
        {
            throw new BrokerException(BrokerErrorCode.InvalidName, $"deadLetterQueue '{deadLetters}' has '{Tenants.Separator}': it is a queue of this tenant.");
        }

        return options with { DeadLetterQueue = Tenants.Qualify(BrokerRequest.Tenant(http), deadLetters) };
    }

    /// <summary>A queue's figures with the tenant's own names.</summary>
    public static QueueInfo Shown(QueueInfo info) => info with
    {
        Name = BrokerRequest.Own(info.Name),
        Options = Shown(info.Options),
        Partitions = info.Partitions is { } partitions ? [.. partitions.Select(p => p with { Name = BrokerRequest.Own(p.Name) })] : null,
    };

    public static QueueOptions Shown(QueueOptions options) =>
        options.DeadLetterQueue is { Length: > 0 } deadLetters ? options with { DeadLetterQueue = BrokerRequest.Own(deadLetters) } : options;
}

/// <summary>What a purge removed.</summary>
internal sealed record PurgeResult(long Purged);
