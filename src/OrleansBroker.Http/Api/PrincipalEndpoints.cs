using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Routing;
using OrleansBroker.Errors;
using OrleansBroker.Http.Security;
using OrleansBroker.Identity;
using OrleansBroker.Server.Identity;

namespace OrleansBroker.Http.Api;

/// <summary>Users, API keys and their permissions (administrators only); <c>/api/whoami</c> for anyone signed in.</summary>
internal static class PrincipalEndpoints
{
    public static void Map(RouteGroupBuilder api)
    {
        api.MapGet("/whoami", (HttpContext http) => TypedResults.Ok(((BrokerIdentity)http.User.Identity!).Principal with { }));
        var principals = api.MapGroup("/principals").RequireAuthorization(Policies.Administrator).WithTags("principals");
        principals.MapGet("", async (IGrainFactory grains) => TypedResults.Ok(await Identity(grains).List()));
        principals.MapGet("/{name}", GetAsync);
        principals.MapPut("/{name}/access", SetAccessAsync).Accepts<PrincipalAccess>("application/json");
        principals.MapDelete("/{name}", DeleteAsync);
        api.MapPut("/users/{name}", CreateUserAsync).RequireAuthorization(Policies.Administrator).WithTags("principals").Accepts<NewUser>("application/json");
        api.MapPut("/users/{name}/password", SetPasswordAsync).RequireAuthorization(Policies.Administrator).WithTags("principals").Accepts<NewPassword>("application/json");
        api.MapPost("/keys/{name}", CreateKeyAsync).RequireAuthorization(Policies.Administrator).WithTags("principals").Accepts<NewKey>("application/json");
    }

    private static async Task<Ok<PrincipalInfo>> GetAsync(string name, IGrainFactory grains) =>
        TypedResults.Ok(await Identity(grains).Get(name) ?? throw new BrokerException(BrokerErrorCode.PrincipalNotFound, $"There is no user or API key '{name}'."));

    /// <summary>Body: <c>{"password": "...", "access": {"tenant": "", "permissions": [...], "administrator": false}}</c>.</summary>
    private static async Task<Created<PrincipalInfo>> CreateUserAsync(HttpContext http, string name, IGrainFactory grains, IdentityDirectory directory)
    {
        var request = await JsonBodies.ReadAsync<NewUser>(http.Request, "a user ({\"password\": ..., \"access\": ...})", BrokerErrorCode.InvalidOptions);
        var user = await Identity(grains).CreateUser(name, request.Password, request.Access);
        await directory.RefreshAsync();
        return TypedResults.Created($"/api/principals/{name}", user);
    }

    private static async Task<Ok<PrincipalInfo>> SetPasswordAsync(HttpContext http, string name, IGrainFactory grains, IdentityDirectory directory)
    {
        var request = await JsonBodies.ReadAsync<NewPassword>(http.Request, "a password ({\"password\": ...})", BrokerErrorCode.InvalidOptions);
        var user = await Identity(grains).SetPassword(name, request.Password);
        await directory.RefreshAsync();
        return TypedResults.Ok(user);
    }

    /// <summary>Body: <c>{"access": {...}}</c>. The answer holds the key, shown this once.</summary>
    private static async Task<Created<ApiKeyCreated>> CreateKeyAsync(HttpContext http, string name, IGrainFactory grains, IdentityDirectory directory)
    {
        var request = await JsonBodies.ReadAsync<NewKey>(http.Request, "an API key ({\"access\": ...})", BrokerErrorCode.InvalidOptions);
        var key = await Identity(grains).CreateApiKey(name, request.Access);
        await directory.RefreshAsync();
        return TypedResults.Created($"/api/principals/{name}", key);
    }

    private static async Task<Ok<PrincipalInfo>> SetAccessAsync(HttpContext http, string name, IGrainFactory grains, IdentityDirectory directory)
    {
        var access = await JsonBodies.ReadAsync<PrincipalAccess>(http.Request, "access ({\"tenant\": ..., \"permissions\": [...]})", BrokerErrorCode.InvalidOptions);
        var principal = await Identity(grains).SetAccess(name, access);
        await directory.RefreshAsync();
        return TypedResults.Ok(principal);
    }

    private static async Task<NoContent> DeleteAsync(string name, IGrainFactory grains, IdentityDirectory directory)
    {
        if (!await Identity(grains).Delete(name))
        {
            throw new BrokerException(BrokerErrorCode.PrincipalNotFound, $"There is no user or API key '{name}'.");
        }

        await directory.RefreshAsync();
        return TypedResults.NoContent();
    }

    private static IIdentityGrain Identity(IGrainFactory grains) => grains.GetGrain<IIdentityGrain>(0);

    private sealed record NewUser(string Password, PrincipalAccess Access);

    private sealed record NewPassword(string Password);

    private sealed record NewKey(PrincipalAccess Access);
}
