using System.Security.Cryptography.X509Certificates;
using OrleansBroker.Errors;

namespace OrleansBroker;

/// <summary>
/// Mutual TLS on the Orleans ports (section <c>Broker:Tls</c>, read by silos and clients alike): every connection, silo to
/// silo and client to gateway, is encrypted, and both ends present a certificate the other trusts (issued by, or equal to,
/// <see cref="TrustedCertificatePath"/>). Off by default: the gateway then listens on loopback for one silo and must stay on
/// a network only your services share. Host names are not checked: trust comes from the certificate authority.
/// </summary>
public sealed class BrokerTlsOptions
{
    /// <summary>This end's certificate: a PFX file, or a PEM certificate with <see cref="CertificateKeyPath"/>. Setting it turns TLS on.</summary>
    public string? CertificatePath { get; set; }

    /// <summary>The PEM private key of <see cref="CertificatePath"/>; not used with a PFX.</summary>
    public string? CertificateKeyPath { get; set; }

    /// <summary>Password of the PFX or of an encrypted PEM key.</summary>
    public string? CertificatePassword { get; set; }

    /// <summary>PEM certificate of the authority (or the one peer certificate) the other end's certificate must be issued by. Required with TLS.</summary>
    public string? TrustedCertificatePath { get; set; }

    /// <summary>Whether TLS is on.</summary>
    public bool Enabled => CertificatePath is not null;

    /// <summary>Throws <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) naming the bad setting.</summary>
    public void Validate()
    {
        if (!Enabled && TrustedCertificatePath is null)
        {
            return;
        }

        if (CertificatePath is null || TrustedCertificatePath is null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                "Broker:Tls needs both CertificatePath (this end's certificate) and TrustedCertificatePath (the authority the other end's must be issued by).");
        }

        foreach (var (setting, path) in new[] { ("CertificatePath", CertificatePath), ("CertificateKeyPath", CertificateKeyPath), ("TrustedCertificatePath", TrustedCertificatePath) })
        {
            if (path is not null && !File.Exists(path))
            {
                throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Broker:Tls:{setting} '{path}' does not exist.");
            }
        }
    }

    /// <summary>This end's certificate, with its private key.</summary>
    public X509Certificate2 LoadCertificate()
    {
        Validate();
        try
        {
            return CertificateKeyPath is { } key
                ? CertificatePassword is { } password ? X509Certificate2.CreateFromEncryptedPemFile(CertificatePath!, password, key) : X509Certificate2.CreateFromPemFile(CertificatePath!, key)
                : X509CertificateLoader.LoadPkcs12FromFile(CertificatePath!, CertificatePassword);
        }
        catch (System.Security.Cryptography.CryptographicException exception)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Broker:Tls:CertificatePath '{CertificatePath}' could not be read: {exception.Message}");
        }
    }

    /// <summary>Whether a certificate the other end presented is trusted: it is the trusted certificate, or one it issued.</summary>
    public Func<X509Certificate2?, bool> Trust()
    {
        Validate();
        var trusted = X509CertificateLoader.LoadCertificateFromFile(TrustedCertificatePath!);
        return presented =>
        {
            if (presented is null)
            {
                return false;
            }

            if (presented.Thumbprint == trusted.Thumbprint)
            {
                return true;
            }

            using var chain = new X509Chain();
            chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
            chain.ChainPolicy.CustomTrustStore.Add(trusted);
            chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
            return chain.Build(presented);
        };
    }
}
