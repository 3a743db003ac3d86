using OrleansBroker.Identity;

namespace OrleansBroker.Server.Identity;

/// <summary>A principal as the broker stores it: with the hash of its secret, never the secret.</summary>
/// <param name="Name">Unique among users and keys.</param>
/// <param name="Kind">User or API key.</param>
/// <param name="Access">Its tenant and permissions.</param>
/// <param name="CreatedAt">When it was made.</param>
/// <param name="SecretHash">See <see cref="SecretHasher"/>.</param>
/// <param name="Stamp">Changes whenever the secret does, so a silo's cache of verified sign-ins forgets the old one.</param>
[GenerateSerializer, Immutable, Alias("ob.principal-record")]
internal sealed record PrincipalRecord(
    [property: Id(0)] string Name,
    [property: Id(1)] PrincipalKind Kind,
    [property: Id(2)] PrincipalAccess Access,
    [property: Id(3)] DateTimeOffset CreatedAt,
    [property: Id(4)] string SecretHash,
    [property: Id(5)] long Stamp)
{
    public PrincipalInfo ToInfo() => new(Name, Kind, Access, CreatedAt);
}

/// <summary>Every principal at one version of the identity store, as the silos cache it.</summary>
[GenerateSerializer, Immutable, Alias("ob.identity-snapshot")]
internal sealed record IdentitySnapshot(
    [property: Id(0)] long Version,
    [property: Id(1)] IReadOnlyList<PrincipalRecord> Principals);

/// <summary>Persisted state of <see cref="IdentityGrain"/>.</summary>
[GenerateSerializer, Alias("ob.identity")]
internal sealed class IdentityState
{
    [Id(0)] public Dictionary<string, PrincipalRecord> Principals { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Rises with every change.</summary>
    [Id(1)] public long Version { get; set; }

    /// <summary>The first administrator was made once; it is not made again if every principal is deleted later.</summary>
    [Id(2)] public bool Bootstrapped { get; set; }
}
