using OrleansBroker.Errors;
using OrleansBroker.Identity;

namespace OrleansBroker.Server.Identity;

/// <summary>
/// A principal as a broker's definitions carry it from one broker to another: with the hash of its password or key (never
/// the secret), so users sign in and keys work on the broker it is imported into. Only administrators export or import it.
/// </summary>
/// <param name="Name">Unique among users and keys.</param>
/// <param name="Kind">User or API key.</param>
/// <param name="Access">Its tenant and permissions.</param>
/// <param name="SecretHash">The stored hash: <c>pbkdf2-sha256$iterations$salt$hash</c> for a password, <c>sha256$hash</c> for a key.</param>
public sealed record PrincipalDefinition(string Name, PrincipalKind Kind, PrincipalAccess Access, string SecretHash)
{
    /// <summary>Throws <see cref="BrokerException"/> naming what is malformed: its name, access, kind or hash.</summary>
    public void Validate()
    {
        IdentityGrain.ValidateName(Name);
        IdentityGrain.ValidateAccess(Access);
        if (Kind is not (PrincipalKind.User or PrincipalKind.ApiKey) || !SecretHasher.IsStoredForm(SecretHash))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Principal '{Name}': its kind or secret hash is not one this broker stores.");
        }
    }
}
