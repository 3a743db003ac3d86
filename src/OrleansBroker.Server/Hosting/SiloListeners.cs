using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansBroker.Errors;

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

    /// <summary>
    /// Checks what every listener has, in this order: its plain port (0 for any free one; -1 for off when
    /// <paramref name="portMayBeOff"/>), its TLS port when it has one, its address, its certificate files. Throws
    /// <see cref="BrokerException"/> (<see cref="BrokerErrorCode.InvalidOptions"/>) naming the setting under <paramref name="section"/>.
    /// </summary>
    public static void Validate(string section, int port, bool portMayBeOff, int? tlsPort, string address, string? certificatePath, string? certificateKeyPath)
    {
        if (port is < -1 or > 65535 || (port == -1 && !portMayBeOff))
        {
            throw Invalid(portMayBeOff
                ? $"{section}:Port must be -1 (off), 0 (any free port) or up to 65535 (it is {port})."
                : $"{section}:Port must be 0 to 65535 (it is {port}).");
        }

        if (tlsPort is < 0 or > 65535)
        {
            throw Invalid($"{section}:TlsPort must be 0 to 65535 (it is {tlsPort}).");
        }

        if (!System.Net.IPAddress.TryParse(address, out _))
        {
            throw Invalid($"{section}:Address '{address}' is not an IP address.");
        }

        if (certificatePath is not null && !File.Exists(certificatePath))
        {
            throw Invalid($"{section}:CertificatePath '{certificatePath}' does not exist.");
        }

        if (certificateKeyPath is not null && !File.Exists(certificateKeyPath))
        {
            throw Invalid($"{section}:CertificateKeyPath '{certificateKeyPath}' does not exist.");
        }

        static BrokerException Invalid(string message) => new(BrokerErrorCode.InvalidOptions, message);
    }

    /// <summary>
    /// Registers the listener <typeparamref name="TServer"/> to start and stop with the silo when <paramref name="enabled"/>
    /// says so (asked once the options are built); otherwise nothing starts.
    /// </summary>
    public static void AddListener<TServer>(IServiceCollection services, Func<IServiceProvider, bool> enabled)
        where TServer : class, ILifecycleParticipant<ISiloLifecycle>
    {
        services.AddSingleton<TServer>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => enabled(sp) ? sp.GetRequiredService<TServer>() : new Disabled());
    }

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

    private sealed class Disabled : ILifecycleParticipant<ISiloLifecycle>
    {
        public void Participate(ISiloLifecycle observer)
        {
        }
    }
}
