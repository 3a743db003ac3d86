using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using OrleansBroker.Http.Api;
using OrleansBroker.Identity;

namespace OrleansBroker.Http.Security;

/// <summary>
/// What a route needs: an <see cref="Operation"/> on the name it addresses (queue, topic, or <c>topic/subscription</c>),
/// any permission in the tenant (lists), or the administrator flag (principals). Checked by <see cref="PermissionHandler"/>
/// through <see cref="AccessRules"/>, the rule every edge shares.
/// </summary>
internal sealed class PermissionRequirement(Operation? operation, bool administrator = false) : IAuthorizationRequirement
{
    public Operation? Operation { get; } = operation;

    public bool Administrator { get; } = administrator;
}

/// <summary>Decides a <see cref="PermissionRequirement"/> for a request (its tenant, the name in its route).</summary>
internal sealed class PermissionHandler : AuthorizationHandler<PermissionRequirement, HttpContext>
{
    protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, PermissionRequirement requirement, HttpContext http)
    {
        if (context.User.Identity is not BrokerIdentity { Principal.Access: var access })
        {
            return Task.CompletedTask;
        }

        var tenant = BrokerRequest.Tenant(http);
        var allowed = requirement.Administrator ? access.Administrator
            : requirement.Operation is { } operation && BrokerRequest.AddressedName(http) is { } name ? access.Allows(tenant, operation, name)
            : access.Reaches(tenant);
        if (allowed)
        {
            context.Succeed(requirement);
        }

        return Task.CompletedTask;
    }
}

/// <summary>The policies routes name.</summary>
internal static class Policies
{
    public const string Manage = "broker:manage";
    public const string Send = "broker:send";
    public const string Receive = "broker:receive";
    public const string Tenant = "broker:tenant";
    public const string Administrator = "broker:administrator";
    public const string Metrics = "broker:metrics";

    public static void Add(AuthorizationOptions options)
    {
        options.AddPolicy(Manage, p => p.AddRequirements(new PermissionRequirement(Operation.Manage)));
        options.AddPolicy(Send, p => p.AddRequirements(new PermissionRequirement(Operation.Send)));
        options.AddPolicy(Receive, p => p.AddRequirements(new PermissionRequirement(Operation.Receive)));
        options.AddPolicy(Tenant, p => p.AddRequirements(new PermissionRequirement(null)));
        options.AddPolicy(Administrator, p => p.AddRequirements(new PermissionRequirement(null, administrator: true)));
        options.AddPolicy(Metrics, p => p.RequireAssertion(context => context.Resource is HttpContext http
            && (http.Connection.RemoteIpAddress is { } remote && System.Net.IPAddress.IsLoopback(remote)
                || context.User.Identity is BrokerIdentity { Principal.Access.Administrator: true })));
        options.FallbackPolicy = new AuthorizationPolicyBuilder(BrokerAuthentication.SchemeName).RequireAuthenticatedUser().Build();
    }
}
