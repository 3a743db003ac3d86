using System.Security.Claims;
using OrleansBroker.Identity;

namespace OrleansBroker.Http.Security;

/// <summary>A signed-in caller: the principal the broker knows, with its tenant and permissions.</summary>
internal sealed class BrokerIdentity(PrincipalInfo principal)
    : ClaimsIdentity([new Claim(ClaimTypes.Name, principal.Name)], BrokerAuthentication.SchemeName)
{
    public PrincipalInfo Principal { get; } = principal;
}
