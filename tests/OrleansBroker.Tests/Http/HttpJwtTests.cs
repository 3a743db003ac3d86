using System.Net;
using System.Security.Claims;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using OrleansBroker.Http.Security;
using OrleansBroker.Identity;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using static OrleansBroker.Tests.Http.HttpBroker;

namespace OrleansBroker.Tests.Http;

/// <summary>Bearer tokens from an identity provider: signature, issuer, audience and lifetime checked; scopes are the permissions.</summary>
public sealed class HttpJwtTests
{
    private const string Issuer = "https://issuer.example";
    private const string Audience = "obroker";

    [Fact]
    public async Task A_token_of_the_trusted_issuer_acts_within_its_scopes_and_every_other_token_is_refused()
    {
        using var data = new TestData();
        using var signing = RSA.Create(2048);
        using var stranger = RSA.Create(2048);
        var keyPath = Path.Combine(data.Directory, "issuer.pem");
        await File.WriteAllTextAsync(keyPath, signing.ExportSubjectPublicKeyInfoPem());
        await using var broker = await HttpBroker.StartAsync(http =>
        {
            http.Jwt.SigningKeyPath = keyPath;
            http.Jwt.Issuer = Issuer;
            http.Jwt.Audience = Audience;
        });
        await CreateQueueAsync(broker.Client(Basic("admin", AdminPassword), "shop"), "orders");

        var sender = broker.Client(Bearer(Token(signing, "svc-a", "obroker.send:shop/orders obroker.receive:shop/none")));
        await ExpectAsync(await sender.PostAsync("/api/queues/orders/messages", new StringContent("from a token")), HttpStatusCode.Created);
        await ExpectProblemAsync(await sender.PostAsync("/api/queues/orders/messages/receive", null), HttpStatusCode.Forbidden, "Forbidden");
        var whoami = System.Text.Json.Nodes.JsonNode.Parse(await ExpectAsync(await sender.GetAsync("/api/whoami"), HttpStatusCode.OK))!;
        Assert.Equal("svc-a", whoami["name"]!.GetValue<string>());
        Assert.Equal("token", whoami["kind"]!.GetValue<string>());
        Assert.Equal("shop", whoami["access"]!["tenant"]!.GetValue<string>());

        var administrator = broker.Client(Bearer(Token(signing, "ops", "obroker.administrator")));
        await ExpectAsync(await administrator.GetAsync("/api/principals"), HttpStatusCode.OK);

        foreach (var (what, token) in new[]
        {
            ("signed by another key", Token(stranger, "svc-a", "obroker.administrator")),
            ("from another issuer", Token(signing, "svc-a", "obroker.administrator", issuer: "https://elsewhere.example")),
            ("for another audience", Token(signing, "svc-a", "obroker.administrator", audience: "someone-else")),
            ("expired", Token(signing, "svc-a", "obroker.administrator", expires: DateTime.UtcNow.AddMinutes(-5))),
            ("not a token", "not.a.token"),
        })
        {
            var response = await broker.Client(Bearer(token)).GetAsync("/api/whoami");
            Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"a token {what}: {(int)response.StatusCode}");
        }
    }

    [Fact]
    public async Task With_an_authority_the_signing_keys_come_from_its_discovery_document()
    {
        using var signing = RSA.Create(2048);
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        await using var issuer = builder.Build();
        var key = JsonWebKeyConverter.ConvertFromRSASecurityKey(new RsaSecurityKey(signing.ExportParameters(false)) { KeyId = "k1" });
        string? authority = null;
        issuer.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, string> { ["issuer"] = authority!, ["jwks_uri"] = authority + "/keys" }));
        issuer.MapGet("/keys", () => Results.Json(new { keys = new[] { new { kty = key.Kty, kid = key.Kid, n = key.N, e = key.E, use = "sig", alg = "RS256" } } }));
        await issuer.StartAsync();
        authority = issuer.Urls.Single();

        await using var broker = await HttpBroker.StartAsync(http =>
        {
            http.Jwt.Authority = authority;
            http.Jwt.Audience = Audience;
            http.Jwt.RequireHttpsMetadata = false;
        });
        var token = Token(signing, "svc-b", "obroker.manage:/*", issuer: authority, keyId: "k1");
        await ExpectAsync(await broker.Client(Bearer(token)).PutAsync("/api/queues/discovered", Json(new { })), HttpStatusCode.OK);
        await ExpectProblemAsync(await broker.Client(Bearer(Token(signing, "svc-b", "obroker.manage:/*", keyId: "k1"))).GetAsync("/api/queues"),
            HttpStatusCode.Unauthorized, "Unauthenticated");
    }

    [Fact]
    public void Scopes_become_permissions_per_tenant_with_alternatives_and_unknown_scopes_are_ignored()
    {
        var access = TokenScopes.Access(["obroker.send:shop/orders.*", "obroker.send:shop/invoices", "obroker.receive:/audit", "openid", "obroker.bogus:x/y",
            "obroker.manage:bad tenant/*"], homeTenant: null);
        Assert.Equal("shop", access.Tenant);
        Assert.False(access.Administrator);
        Assert.True(access.Allows("shop", Operation.Send, "orders.eu"));
        Assert.True(access.Allows("shop", Operation.Send, "invoices"));
        Assert.False(access.Allows("shop", Operation.Send, "payments"));
        Assert.False(access.Allows("shop", Operation.Receive, "orders.eu"));
        Assert.True(access.Allows(Tenants.Default, Operation.Receive, "audit"));
        Assert.False(access.Allows(Tenants.Default, Operation.Manage, "audit"));
        Assert.Equal(2, access.Permissions.Count);
    }

    private static string Token(RSA key, string subject, string scope, string issuer = Issuer, string audience = Audience, DateTime? expires = null, string? keyId = null) =>
        new JsonWebTokenHandler { SetDefaultTimesOnTokenCreation = false }.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            Subject = new ClaimsIdentity([new Claim("sub", subject), new Claim("scope", scope)]),
            NotBefore = (expires ?? DateTime.UtcNow.AddMinutes(10)).AddMinutes(-20),
            Expires = expires ?? DateTime.UtcNow.AddMinutes(10),
            IssuedAt = (expires ?? DateTime.UtcNow.AddMinutes(10)).AddMinutes(-20),
            SigningCredentials = new SigningCredentials(new RsaSecurityKey(key) { KeyId = keyId }, SecurityAlgorithms.RsaSha256),
        });
}
