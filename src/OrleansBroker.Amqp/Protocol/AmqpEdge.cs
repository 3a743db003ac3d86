using System.Text;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansBroker.Amqp.Hosting;
using OrleansBroker.Client;
using OrleansBroker.Identity;
using OrleansBroker.Server.Hosting;
using OrleansBroker.Server.Identity;

namespace OrleansBroker.Amqp.Protocol;

/// <summary>What every AMQP connection of a silo shares: settings, the silo's broker clients, identities, metrics.</summary>
internal sealed class AmqpEdge(
    IOptions<BrokerAmqpOptions> options,
    IOptions<BrokerOptions> broker,
    IBrokerClient client,
    IBrokerAdministrationClient admin,
    IdentityDirectory identities,
    AmqpMetrics metrics,
    ILoggerFactory loggers)
{
    public BrokerAmqpOptions Options { get; } = options.Value;

    /// <summary>Most body bytes of a message (<c>Broker:MaxMessageBytes</c>).</summary>
    public int MaxMessageBytes { get; } = broker.Value.MaxMessageBytes;

    /// <summary>Largest encoded AMQP message taken: a full-size body with room for its properties and annotations.</summary>
    public ulong MaxEncodedMessageBytes => (ulong)MaxMessageBytes + 64 * 1024;

    public IBrokerClient Client { get; } = client;

    public IBrokerAdministrationClient Admin { get; } = admin;

    public AmqpMetrics Metrics { get; } = metrics;

    public ILogger Logger { get; } = loggers.CreateLogger("OrleansBroker.Amqp");

    /// <summary>
    /// The principal a SASL PLAIN response (<c>authzid NUL authcid NUL password</c>) signs in as: a user by name and
    /// password, or an API key given as the password (any user name). Null when neither holds.
    /// </summary>
    public async Task<PrincipalInfo?> SignInPlainAsync(byte[]? response)
    {
        if (response is null)
        {
            return null;
        }

        var parts = Encoding.UTF8.GetString(response).Split('\0');
        if (parts.Length != 3)
        {
            return null;
        }

        var (user, password) = (parts[1], parts[2]);
        return password.StartsWith("obk.", StringComparison.Ordinal)
            ? await identities.SignInWithKeyAsync(password)
            : await identities.SignInAsync(user, password);
    }

    /// <summary>The principal SASL ANONYMOUS signs in as (<see cref="BrokerAmqpOptions.AnonymousPrincipal"/>), when one is set.</summary>
    public async Task<PrincipalInfo?> SignInAnonymousAsync() =>
        Options.AnonymousPrincipal is { } name ? await identities.FindAsync(name) : null;
}
