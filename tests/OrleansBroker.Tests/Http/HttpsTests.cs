using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using static OrleansBroker.Tests.Http.HttpBroker;

namespace OrleansBroker.Tests.Http;

/// <summary>HTTPS from a configured certificate, PEM (certificate and key files) or PFX: the API answers over TLS with that certificate only.</summary>
public sealed class HttpsTests
{
    [Theory]
    [InlineData("pem")]
    [InlineData("pfx")]
    public async Task The_api_serves_https_with_the_configured_certificate(string format)
    {
        using var data = new TestData();
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(SubjectAlternativeName());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var certificatePath = Path.Combine(data.Directory, format == "pem" ? "broker.crt" : "broker.pfx");
        string? keyPath = null;
        if (format == "pem")
        {
            keyPath = Path.Combine(data.Directory, "broker.key");
            await File.WriteAllTextAsync(certificatePath, certificate.ExportCertificatePem());
            await File.WriteAllTextAsync(keyPath, key.ExportPkcs8PrivateKeyPem());
        }
        else
        {
            await File.WriteAllBytesAsync(certificatePath, certificate.Export(X509ContentType.Pfx, "pfx-password"));
        }

        await using var broker = await HttpBroker.StartAsync(http =>
        {
            http.CertificatePath = certificatePath;
            http.CertificateKeyPath = keyPath;
            http.CertificatePassword = format == "pfx" ? "pfx-password" : null;
        });
        Assert.Equal("https", broker.Address.Scheme);

        string? seen = null;
        using var handler = new HttpClientHandler
        {
            ServerCertificateCustomValidationCallback = (_, presented, _, _) =>
            {
                seen = presented?.Thumbprint;
                return presented?.Thumbprint == certificate.Thumbprint;
            },
        };
        using var client = new HttpClient(handler) { BaseAddress = broker.Address, DefaultRequestHeaders = { Authorization = Basic("admin", AdminPassword) } };
        await ExpectAsync(await client.GetAsync("/api/whoami"), HttpStatusCode.OK);
        Assert.Equal(certificate.Thumbprint, seen);
    }

    private static X509Extension SubjectAlternativeName()
    {
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        return names.Build();
    }
}
