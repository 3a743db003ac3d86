using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Http.Security;
using OrleansBroker.Queues;
using OrleansBroker.Topics;

namespace OrleansBroker.Http.Api;

/// <summary>Topic management: list, create, show, delete; subscriptions (their queues are received from like any queue).</summary>
internal static class TopicEndpoints
{
    public static void Map(RouteGroupBuilder topics, RouteGroupBuilder topic, RouteGroupBuilder subscription)
    {
        topics.MapGet("", ListAsync).RequireAuthorization(Policies.Tenant);
        topic.MapPut("", CreateAsync).RequireAuthorization(Policies.Manage).Accepts<TopicOptions>("application/json");
        topic.MapGet("", GetAsync).RequireAuthorization(Policies.Manage);
        topic.MapDelete("", DeleteAsync).RequireAuthorization(Policies.Manage);
        subscription.MapPut("", SubscribeAsync).RequireAuthorization(Policies.Manage).Accepts<SubscriptionRequest>("application/json");
        subscription.MapGet("", GetSubscriptionAsync).RequireAuthorization(Policies.Manage);
        subscription.MapDelete("", UnsubscribeAsync).RequireAuthorization(Policies.Manage);
        subscription.MapPut("/push", SetPushAsync).RequireAuthorization(Policies.Manage).Accepts<PushEndpoint>("application/json");
        subscription.MapDelete("/push", RemovePushAsync).RequireAuthorization(Policies.Manage);
    }

    private static async Task<Ok<string[]>> ListAsync(HttpContext http, IBrokerAdministrationClient admin) =>
        TypedResults.Ok(TenantLists.Manageable(http, await admin.ListTopicsAsync(http.RequestAborted)).Select(TenantNames.Own).ToArray());

    /// <summary>Creates the topic with the options in the body (<c>{}</c> for the defaults), or confirms it exists with them.</summary>
    private static async Task<Ok<TopicInfo>> CreateAsync(HttpContext http, IBrokerAdministrationClient admin)
    {
        var topic = BrokerRequest.QualifiedName(http);
        var options = await JsonBodies.ReadAsync<TopicOptions>(http.Request, "topic options ({} for the defaults)", BrokerErrorCode.InvalidOptions);
        return TypedResults.Ok(TenantNames.Own(await admin.CreateTopicAsync(topic, options, http.RequestAborted)));
    }

    private static async Task<Ok<TopicInfo>> GetAsync(HttpContext http, IBrokerAdministrationClient admin) =>
        TypedResults.Ok(TenantNames.Own(await admin.GetTopicInfoAsync(BrokerRequest.QualifiedName(http), http.RequestAborted)));

    private static async Task<NoContent> DeleteAsync(HttpContext http, IBrokerAdministrationClient admin)
    {
        var topic = BrokerRequest.QualifiedName(http);
        await admin.GetTopicInfoAsync(topic, http.RequestAborted);
        await admin.DeleteTopicAsync(topic, http.RequestAborted);
        return TypedResults.NoContent();
    }

    /// <summary>Body: <c>{"filter": {"routingKeys": [...], "headers": [...]}, "queue": {options}, "transform": {...}, "replayFrom": time}</c>, all optional.</summary>
    private static async Task<Ok<TopicInfo>> SubscribeAsync(HttpContext http, IBrokerAdministrationClient admin)
    {
        var (topic, name) = Names(http);
        var request = await JsonBodies.ReadAsync<SubscriptionRequest>(http.Request, "a subscription ({} to receive everything)", BrokerErrorCode.InvalidOptions);
        var subscription = new Subscription(name, request.Filter ?? SubscriptionFilter.All,
            QueueEndpoints.QualifiedOptions(http, request.Queue ?? new QueueOptions()), request.Transform);
        return TypedResults.Ok(TenantNames.Own(await admin.CreateSubscriptionAsync(topic, subscription, request.ReplayFrom, http.RequestAborted)));
    }

    private static async Task<Ok<Subscription>> GetSubscriptionAsync(HttpContext http, IBrokerAdministrationClient admin)
    {
        var (topic, name) = Names(http);
        var info = TenantNames.Own(await admin.GetTopicInfoAsync(topic, http.RequestAborted));
        return TypedResults.Ok(info.Subscriptions.FirstOrDefault(s => s.Name == name)
            ?? throw new BrokerException(BrokerErrorCode.QueueNotFound, $"Topic '{info.Name}' has no subscription '{name}'."));
    }

    private static async Task<NoContent> UnsubscribeAsync(HttpContext http, IBrokerAdministrationClient admin)
    {
        var (topic, name) = Names(http);
        var info = await admin.GetTopicInfoAsync(topic, http.RequestAborted);
        if (info.Subscriptions.All(s => s.Name != name))
        {
            throw new BrokerException(BrokerErrorCode.QueueNotFound, $"Topic '{TenantNames.Own(topic)}' has no subscription '{name}'.");
        }

        await admin.DeleteSubscriptionAsync(topic, name, http.RequestAborted);
        return TypedResults.NoContent();
    }

    /// <summary>Replaces the push endpoint of the subscription's queue (body: the endpoint), keeping its messages; 200 with the topic.</summary>
    private static async Task<Ok<TopicInfo>> SetPushAsync(HttpContext http, IBrokerAdministrationClient admin)
    {
        var (topic, name) = Names(http);
        var push = await JsonBodies.ReadAsync<PushEndpoint>(http.Request, "a push endpoint", BrokerErrorCode.InvalidOptions);
        return TypedResults.Ok(TenantNames.Own(await admin.SetSubscriptionPushAsync(topic, name, push, http.RequestAborted)));
    }

    private static async Task<Ok<TopicInfo>> RemovePushAsync(HttpContext http, IBrokerAdministrationClient admin)
    {
        var (topic, name) = Names(http);
        return TypedResults.Ok(TenantNames.Own(await admin.SetSubscriptionPushAsync(topic, name, null, http.RequestAborted)));
    }

    /// <summary>The topic inside the cluster and the subscription's name, both checked.</summary>
    private static (string Topic, string Subscription) Names(HttpContext http)
    {
        var queue = BrokerRequest.QualifiedName(http);
        var slash = queue.LastIndexOf('/');
        return (queue[..slash], queue[(slash + 1)..]);
    }
}

/// <summary>A subscription as <c>PUT /api/topics/{topic}/subscriptions/{subscription}</c> takes it.</summary>
internal sealed record SubscriptionRequest(SubscriptionFilter? Filter = null, QueueOptions? Queue = null, SubscriptionTransform? Transform = null,
    DateTimeOffset? ReplayFrom = null);
