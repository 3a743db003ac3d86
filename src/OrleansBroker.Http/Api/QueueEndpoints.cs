using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Http.Security;
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
        queue.MapPut("/push", SetPushAsync).RequireAuthorization(Policies.Manage).Accepts<PushEndpoint>("application/json");
        queue.MapDelete("/push", RemovePushAsync).RequireAuthorization(Policies.Manage);
    }

    /// <summary>Replaces the queue's push endpoint (body: the endpoint), keeping its messages; 200 with the queue.</summary>
    private static async Task<Ok<QueueSummary>> SetPushAsync(HttpContext http, IBrokerAdministrationClient admin, QueueRates rates)
    {
        var push = await JsonBodies.ReadAsync<PushEndpoint>(http.Request, "a push endpoint", BrokerErrorCode.InvalidOptions);
        return TypedResults.Ok(QueueSummary.Of(await admin.SetQueuePushAsync(BrokerRequest.QualifiedName(http), push, http.RequestAborted), rates));
    }

    /// <summary>Removes the queue's push endpoint: nothing is pushed any more, the messages stay for consumers; 200 with the queue.</summary>
    private static async Task<Ok<QueueSummary>> RemovePushAsync(HttpContext http, IBrokerAdministrationClient admin, QueueRates rates) =>
        TypedResults.Ok(QueueSummary.Of(await admin.SetQueuePushAsync(BrokerRequest.QualifiedName(http), null, http.RequestAborted), rates));

    /// <summary>
    /// The tenant's queues the caller may manage, with their figures, by name; with <c>?page=</c>, one page of them
    /// (<see cref="QueuePage"/>), which reads the figures of that page's queues only unless sorted by a figure.
    /// </summary>
    private static async Task<IResult> ListAsync(HttpContext http, IBrokerAdministrationClient admin, QueueRates rates)
    {
        var queues = TenantLists.Manageable(http, await admin.ListQueuesAsync(http.RequestAborted));
        if (QueuePageRequest.From(http.Request) is { } page)
        {
            return TypedResults.Ok(await page.ReadAsync(admin, rates, queues, http.RequestAborted));
        }

        return TypedResults.Ok((await admin.GetQueueInfosAsync(queues, http.RequestAborted)).Select(info => QueueSummary.Of(info, rates)).ToArray());
    }

    /// <summary>Creates the queue with the options in the body (<c>{}</c> for the defaults), or confirms it exists with them: 200 either way.</summary>
    private static async Task<Ok<QueueSummary>> CreateAsync(HttpContext http, IBrokerAdministrationClient admin, QueueRates rates)
    {
        var queue = BrokerRequest.QualifiedName(http);
        var options = QualifiedOptions(http, await JsonBodies.ReadAsync<QueueOptions>(http.Request, "queue options ({} for the defaults)", BrokerErrorCode.InvalidOptions));
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

    /// <summary>Options of a request: the dead-letter queue they name is a queue of the request's tenant.</summary>
    public static QueueOptions QualifiedOptions(HttpContext http, QueueOptions options) =>
        TenantNames.Qualify(BrokerRequest.Tenant(http), options, $"the {BrokerRequest.TenantHeader} header");
}

/// <summary>What a purge removed.</summary>
internal sealed record PurgeResult(long Purged);
