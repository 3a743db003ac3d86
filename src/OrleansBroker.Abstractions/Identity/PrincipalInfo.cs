namespace OrleansBroker.Identity;

/// <summary>What kind of principal: a person with a password, or a service with an API key.</summary>
public enum PrincipalKind
{
    /// <summary>A user: signs in with its name and password (HTTP Basic, the console).</summary>
    User = 1,

    /// <summary>An API key: a service presents <c>Authorization: Bearer &lt;key&gt;</c>.</summary>
    ApiKey = 2,

    /// <summary>
    /// A caller with a token (JWT) from the identity provider the broker trusts: not stored by the broker; its permissions
    /// come from the token's scopes.
    /// </summary>
    Token = 3,
}

/// <summary>What a principal is allowed, set when it is made and changed with <see cref="IIdentityGrain.SetAccess"/>.</summary>
/// <param name="Tenant">Its home tenant: the one its requests act in unless they name another.</param>
/// <param name="Permissions">Per tenant, what it may manage, send to and receive from.</param>
/// <param name="Administrator">Manages principals, every tenant and the broker itself (RabbitMQ's administrator tag); implies every permission.</param>
/// <param name="Description">Free text for people: whom or what it is for.</param>
[GenerateSerializer, Immutable, Alias("ob.access")]
public sealed record PrincipalAccess(
    [property: Id(0)] string Tenant,
    [property: Id(1)] IReadOnlyList<TenantPermission> Permissions,
    [property: Id(2)] bool Administrator = false,
    [property: Id(3)] string? Description = null);

/// <summary>A principal as it is shown: never its password or key, which the broker keeps only hashed.</summary>
/// <param name="Name">Unique among users and keys.</param>
/// <param name="Kind">User or API key.</param>
/// <param name="Access">Its tenant and permissions.</param>
/// <param name="CreatedAt">When it was made.</param>
[GenerateSerializer, Immutable, Alias("ob.principal")]
public sealed record PrincipalInfo(
    [property: Id(0)] string Name,
    [property: Id(1)] PrincipalKind Kind,
    [property: Id(2)] PrincipalAccess Access,
    [property: Id(3)] DateTimeOffset CreatedAt);

/// <summary>A new API key: <see cref="Key"/> is shown this once and never again (the broker keeps a hash).</summary>
[GenerateSerializer, Immutable, Alias("ob.api-key")]
public sealed record ApiKeyCreated(
    [property: Id(0)] PrincipalInfo Principal,
    [property: Id(1)] string Key);
