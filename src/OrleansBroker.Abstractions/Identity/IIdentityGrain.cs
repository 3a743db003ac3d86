namespace OrleansBroker.Identity;

/// <summary>
/// The broker's principals (users and API keys) and their permissions, stored durably by the broker. Passwords are kept
/// as PBKDF2 hashes and API keys as SHA-256 hashes of their secret; neither is ever returned. One grain for the cluster
/// (key 0); at most <see cref="MaxPrincipals"/> principals. Every silo's edges (HTTP, MQTT, AMQP) check requests against it.
/// </summary>
[Alias("ob.IIdentityGrain")]
public interface IIdentityGrain : IGrainWithIntegerKey
{
    /// <summary>Most principals, users and keys together: 10,000.</summary>
    const int MaxPrincipals = 10_000;

    /// <summary>Every principal, by name.</summary>
    [Alias("list")]
    Task<IReadOnlyList<PrincipalInfo>> List();

    /// <summary>One principal, or null.</summary>
    [Alias("get")]
    Task<PrincipalInfo?> Get(string name);

    /// <summary>
    /// Creates a user with a password (8 to 256 characters). <c>InvalidOptions</c> when the name is taken, malformed or the
    /// password too short.
    /// </summary>
    [Alias("create-user")]
    Task<PrincipalInfo> CreateUser(string name, string password, PrincipalAccess access);

    /// <summary>Sets a user's password; sign-ins with the old one stop at once.</summary>
    [Alias("set-password")]
    Task<PrincipalInfo> SetPassword(string name, string password);

    /// <summary>Creates an API key and returns it, once: <c>obk.&lt;name&gt;.&lt;secret&gt;</c>.</summary>
    [Alias("create-key")]
    Task<ApiKeyCreated> CreateApiKey(string name, PrincipalAccess access);

    /// <summary>Replaces a principal's tenant, permissions and administrator flag.</summary>
    [Alias("set-access")]
    Task<PrincipalInfo> SetAccess(string name, PrincipalAccess access);

    /// <summary>Deletes a user or revokes a key; false when there was none.</summary>
    [Alias("delete")]
    Task<bool> Delete(string name);
}
