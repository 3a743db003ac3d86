using System.Net.Http.Headers;
using System.Text;
using System.Text.Encodings.Web;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansBroker.Errors;
using OrleansBroker.Http.Api;
using OrleansBroker.Server.Identity;

namespace OrleansBroker.Http.Security;

/// <summary>
/// Signs callers in: <c>Authorization: Basic</c> with a user's name and password, or <c>Authorization: Bearer</c> with an
/// API key (<c>obk.…</c>) or, when an identity provider is configured, a JWT it issued. A request without credentials is anonymous (401 on every route but health); one with wrong
/// credentials is 401 too. Challenges and refusals are problem+json, like every other error.
/// </summary>
internal sealed class BrokerAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder,
    IdentityDirectory identity, TokenSignIn? tokens = null)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
{
    public const string SchemeName = "Broker";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (!AuthenticationHeaderValue.TryParse(Request.Headers.Authorization, out var header) || header.Parameter is not { Length: > 0 } credentials)
        {
            return AuthenticateResult.NoResult();
        }

        var principal = header.Scheme.ToUpperInvariant() switch
        {
            "BASIC" => await BasicAsync(credentials),
            "BEARER" when credentials.StartsWith("obk.", StringComparison.Ordinal) || tokens is null => await identity.SignInWithKeyAsync(credentials),
            "BEARER" => await tokens.SignInAsync(credentials, Context.RequestAborted),
            _ => null,
        };
        return principal is null
            ? AuthenticateResult.Fail("The credentials are not valid.")
            : AuthenticateResult.Success(new AuthenticationTicket(new(new BrokerIdentity(principal)), SchemeName));
    }

    private async ValueTask<OrleansBroker.Identity.PrincipalInfo?> BasicAsync(string credentials)
    {
        string decoded;
        try
        {
            decoded = Encoding.UTF8.GetString(Convert.FromBase64String(credentials));
        }
        catch (FormatException)
        {
            return null;
        }

        var colon = decoded.IndexOf(':', StringComparison.Ordinal);
        return colon <= 0 ? null : await identity.SignInAsync(decoded[..colon], decoded[(colon + 1)..]);
    }

    protected override Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        // A script (the console sends X-Requested-With) shows its own sign-in: no Basic challenge, so no browser dialog.
        Response.Headers.WWWAuthenticate = Request.Headers.XRequestedWith.Count > 0 ? "Bearer" : "Basic realm=\"OrleansBroker\", Bearer";
        return Problems.WriteAsync(Context, new BrokerException(BrokerErrorCode.Unauthenticated,
            "Sign in: HTTP Basic with a user name and password, or 'Authorization: Bearer <API key>'."));
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) =>
        Problems.WriteAsync(Context, new BrokerException(BrokerErrorCode.Forbidden,
            $"'{Context.User.Identity?.Name}' has no permission for this in tenant '{BrokerRequest.DisplayTenant(Context)}'."));
}
