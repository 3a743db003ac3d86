using OrleansBroker.Identity;

namespace OrleansBroker.Server.Identity;

/// <summary>What silos ask of the identity grain: the stored principals with their hashes, and the first administrator.</summary>
[Alias("ob.IIdentityStoreGrain")]
internal interface IIdentityStoreGrain : IGrainWithIntegerKey
{
    /// <summary>The principals, or null when the store is still at <paramref name="knownVersion"/>.</summary>
    [Alias("snapshot")]
    Task<IdentitySnapshot?> GetSnapshot(long knownVersion);

    /// <summary>
    /// Creates the user <paramref name="name"/> as an administrator of every tenant with <paramref name="password"/> if the
    /// store has never had a principal; true when it did so now.
    /// </summary>
    [Alias("bootstrap")]
    Task<bool> Bootstrap(string name, string password);

    /// <summary>Adds a principal from a broker's definitions, with its stored hash; false (and nothing changed) when the name is taken.</summary>
    [Alias("import")]
    Task<bool> Import(string name, PrincipalKind kind, PrincipalAccess access, string secretHash);
}
