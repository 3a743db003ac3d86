using System.Security.Cryptography;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Protocols;
using Microsoft.IdentityModel.Protocols.OpenIdConnect;
using Microsoft.IdentityModel.Tokens;
using OrleansBroker.Errors;
using OrleansBroker.Http.Hosting;
using OrleansBroker.Identity;

namespace OrleansBroker.Http.Security;

/// <summary>
/// Validates bearer tokens (JWT) from the configured identity provider: signature (keys from its discovery document, or
/// the configured public key), issuer, audience and lifetime (30 s of clock skew), then maps the scopes to permissions.
/// </summary>
internal sealed class TokenSignIn
{
    private readonly JsonWebTokenHandler _handler = new();
    private readonly TokenValidationParameters _parameters;
    private readonly ConfigurationManager<OpenIdConnectConfiguration>? _discovery;
    private readonly TimeProvider _time;

    public TokenSignIn(BrokerHttpOptions options, TimeProvider time)
    {
        _time = time;
        var jwt = options.Jwt;
        _parameters = new TokenValidationParameters
        {
            ValidAudience = jwt.Audience,
            ValidIssuer = jwt.Issuer,
            ValidateIssuer = true,
            ValidateAudience = true,
            ValidateLifetime = true,
            RequireExpirationTime = true,
            ClockSkew = TimeSpan.FromSeconds(30),
        };
        if (jwt.SigningKeyPath is { } path)
        {
            _parameters.IssuerSigningKey = LoadKey(path);
        }
        else if (jwt.Authority is { } authority)
        {
            var metadata = authority.TrimEnd('/') + "/.well-known/openid-configuration";
            _discovery = new ConfigurationManager<OpenIdConnectConfiguration>(metadata, new OpenIdConnectConfigurationRetriever(),
                new HttpDocumentRetriever { RequireHttps = jwt.RequireHttpsMetadata });
        }
    }

    /// <summary>The principal a valid token stands for, or null (any failure: bad signature, issuer, audience, expired).</summary>
    public async ValueTask<PrincipalInfo?> SignInAsync(string token, CancellationToken cancellationToken)
    {
        var parameters = _parameters;
        if (_discovery is not null)
        {
            var configuration = await _discovery.GetConfigurationAsync(cancellationToken).ConfigureAwait(false);
            parameters = _parameters.Clone();
            parameters.IssuerSigningKeys = configuration.SigningKeys;
            parameters.ValidIssuer = configuration.Issuer;
        }

        var result = await _handler.ValidateTokenAsync(token, parameters).ConfigureAwait(false);
        return result.IsValid ? TokenScopes.ToPrincipal(result.ClaimsIdentity, _time.GetUtcNow()) : null;
    }

    /// <summary>An RSA or EC public key from PEM; <c>InvalidOptions</c> naming the setting when it is neither.</summary>
    private static SecurityKey LoadKey(string path)
    {
        var pem = File.ReadAllText(path);
        var rsa = RSA.Create();
        try
        {
            rsa.ImportFromPem(pem);
            return new RsaSecurityKey(rsa);
        }
        catch (Exception exception) when (exception is CryptographicException or ArgumentException)
        {
            rsa.Dispose();
        }

        var ec = ECDsa.Create();
        try
        {
            ec.ImportFromPem(pem);
            return new ECDsaSecurityKey(ec);
        }
        catch (Exception exception) when (exception is CryptographicException or ArgumentException)
        {
            ec.Dispose();
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Broker:Http:Jwt:SigningKeyPath '{path}' holds no PEM RSA or EC public key.");
        }
    }
}
