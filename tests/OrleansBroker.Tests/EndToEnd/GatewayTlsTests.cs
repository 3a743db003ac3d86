using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.EndToEnd;

/// <summary>
/// Mutual TLS on the gateway (Broker:Tls): silo-host with a certificate from a test authority serves a client presenting one
/// from the same authority, and refuses a client with none or with one another authority issued.
/// </summary>
public sealed class GatewayTlsTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task The_gateway_serves_a_client_with_a_trusted_certificate_and_refuses_one_with_none_or_an_untrusted_one()
    {
        using var data = new TestData();
        var dir = data.Directory;
        using var authority = Authority("CN=obroker test authority");
        using var rogueAuthority = Authority("CN=someone else");
        await File.WriteAllTextAsync(Path.Combine(dir, "ca.crt"), authority.ExportCertificatePem());
        await File.WriteAllBytesAsync(Path.Combine(dir, "silo.pfx"), Issue(authority, "CN=silo").Export(X509ContentType.Pfx, "silo-password"));
        using (var client = Issue(authority, "CN=client"))
        {
            await File.WriteAllTextAsync(Path.Combine(dir, "client.crt"), client.ExportCertificatePem());
            await File.WriteAllTextAsync(Path.Combine(dir, "client.key"), client.GetRSAPrivateKey()!.ExportPkcs8PrivateKeyPem());
        }

        await File.WriteAllBytesAsync(Path.Combine(dir, "rogue.pfx"), Issue(rogueAuthority, "CN=rogue").Export(X509ContentType.Pfx, ""));

        var gatewayPort = RealProcess.FreePort();
        Directory.CreateDirectory(Path.Combine(dir, "silo"));
        using var silo = new SiloProcess(Path.Combine(dir, "silo"), RealProcess.FreePort(), gatewayPort,
            "--Broker:Tls:CertificatePath", Path.Combine(dir, "silo.pfx"), "--Broker:Tls:CertificatePassword", "silo-password",
            "--Broker:Tls:TrustedCertificatePath", Path.Combine(dir, "ca.crt"));
        await silo.WaitUntilReadyAsync();
        Assert.Contains("(mutual TLS)", silo.Output, StringComparison.Ordinal);

        var gateway = $"127.0.0.1:{gatewayPort}";
        string[] trusted = ["--tls-certificate", Path.Combine(dir, "client.crt"), "--tls-key", Path.Combine(dir, "client.key"), "--tls-trust", Path.Combine(dir, "ca.crt")];
        var created = await RealProcess.RunAsync(RealProcess.CliDll, dir, Timeout, ["queue", "create", "secured", "--gateway", gateway, .. trusted]);
        Assert.True(created.ExitCode == 0, created.Err);
        var listed = await RealProcess.RunAsync(RealProcess.CliDll, dir, Timeout, ["queue", "list", "--gateway", gateway, .. trusted]);
        Assert.Contains("secured", listed.Out, StringComparison.Ordinal);

        var plain = await RealProcess.RunAsync(RealProcess.CliDll, dir, Timeout, "queue", "list", "--gateway", gateway);
        Assert.Equal(3, plain.ExitCode);
        Assert.Contains("--tls-certificate", plain.Err, StringComparison.Ordinal); // the likely reason, said after a few attempts
        var rogue = await RealProcess.RunAsync(RealProcess.CliDll, dir, Timeout, "queue", "list", "--gateway", gateway,
            "--tls-certificate", Path.Combine(dir, "rogue.pfx"), "--tls-trust", Path.Combine(dir, "ca.crt"));
        Assert.Equal(3, rogue.ExitCode);
        var missing = await RealProcess.RunAsync(RealProcess.CliDll, dir, Timeout, "queue", "list", "--gateway", gateway, "--tls-certificate", Path.Combine(dir, "client.crt"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("TrustedCertificatePath", missing.Err, StringComparison.Ordinal);
    }

    private static X509Certificate2 Authority(string subject)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        return request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
    }

    private static X509Certificate2 Issue(X509Certificate2 authority, string subject)
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest(subject, key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, false));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.5.5.7.3.2")], false));
        using var issued = request.Create(authority, DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddHours(12), RandomNumberGenerator.GetBytes(8));
        return issued.CopyWithPrivateKey(key);
    }
}
