using OrleansBroker.Errors;

namespace OrleansBroker.Http.Hosting;

/// <summary>
/// Bearer tokens (JWT) from an OpenID Connect identity provider, beside users and API keys (section <c>Broker:Http:Jwt</c>).
/// Off until <see cref="Authority"/> or <see cref="SigningKeyPath"/> is set. A token's scopes give its permissions, in
/// RabbitMQ's OAuth 2 style: <c>obroker.manage:TENANT/PATTERN</c>, <c>obroker.send:...</c>, <c>obroker.receive:...</c>
/// (the default tenant is empty: <c>obroker.send:/orders.*</c>) and <c>obroker.administrator</c>.
/// </summary>
public sealed class BrokerJwtOptions
{
    /// <summary>The issuer's URL; its signing keys are read from its OpenID Connect discovery document.</summary>
    public string? Authority { get; set; }

    /// <summary>The audience tokens must be issued for. Required with JWT. Default none.</summary>
    public string? Audience { get; set; }

    /// <summary>Instead of <see cref="Authority"/>: a PEM public key (RSA or EC) tokens are signed with, with <see cref="Issuer"/>.</summary>
    public string? SigningKeyPath { get; set; }

    /// <summary>The issuer tokens must name, with <see cref="SigningKeyPath"/>.</summary>
    public string? Issuer { get; set; }

    /// <summary>Whether the discovery document must come over HTTPS. Default true.</summary>
    public bool RequireHttpsMetadata { get; set; } = true;

    /// <summary>Whether JWT is on.</summary>
    public bool Enabled => Authority is not null || SigningKeyPath is not null;

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) naming the bad setting.</summary>
    public void Validate()
    {
        if (!Enabled)
        {
            return;
        }

        if (string.IsNullOrWhiteSpace(Audience))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, "Broker:Http:Jwt:Audience is required with JWT: the audience tokens are issued for.");
        }

        if (Authority is not null && SigningKeyPath is not null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, "Broker:Http:Jwt: give Authority (discovery) or SigningKeyPath with Issuer, not both.");
        }

        if (Authority is not null && !Uri.TryCreate(Authority, UriKind.Absolute, out _))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Broker:Http:Jwt:Authority '{Authority}' is not an absolute URL.");
        }

        if (SigningKeyPath is not null && (!File.Exists(SigningKeyPath) || string.IsNullOrWhiteSpace(Issuer)))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, "Broker:Http:Jwt:SigningKeyPath must name a PEM public key that exists, with Broker:Http:Jwt:Issuer.");
        }
    }
}
