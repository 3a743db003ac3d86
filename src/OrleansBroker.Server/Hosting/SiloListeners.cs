using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace OrleansBroker.Server.Hosting;

/// <summary>What the silo's own listeners (HTTP, MQTT, AMQP) share: how they load a certificate, a host lifetime the silo owns, the silo's loggers.</summary>
internal static class SiloListeners
{
    /// <summary>
    /// The certificate of <paramref name="path"/>: a PFX (with <paramref name="password"/>, if any), or a PEM certificate
    /// with its key in <paramref name="keyPath"/> (encrypted with <paramref name="password"/>, if given). Null without a path.
    /// </summary>
    public static X509Certificate2? LoadCertificate(string? path, string? keyPath, string? password) => path switch
    {
        null => null,
        _ when keyPath is not null => password is not null
            ? X509Certificate2.CreateFromEncryptedPemFile(path, password, keyPath)
            : X509Certificate2.CreateFromPemFile(path, keyPath),
        _ => X509CertificateLoader.LoadPkcs12FromFile(path, password),
    };

    /// <summary>The silo's host owns Ctrl+C, signals and the start and stop messages; a listener starts and stops with the silo.</summary>
    public sealed class SiloOwnedLifetime : IHostLifetime
    {
        public Task WaitForStartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

        public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
    }

    /// <summary>Hands a listener's loggers (Kestrel's own lines) to the silo's logger factory.</summary>
    public sealed class SiloLoggers(ILoggerFactory loggers) : ILoggerProvider
    {
        public ILogger CreateLogger(string categoryName) => loggers.CreateLogger(categoryName);

        public void Dispose()
        {
        }
    }
}
