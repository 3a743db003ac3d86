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

    /// <summary>The principal SASL PLAIN's user name and password sign in as: a user, or an API key given as the password; null when neither.</summary>
    public ValueTask<PrincipalInfo?> SignInAsync(string user, string password) => identities.SignInWithUserOrKeyAsync(user, password);

    /// <summary>The principal SASL ANONYMOUS signs in as (<see cref="BrokerAmqpOptions.AnonymousPrincipal"/>), when one is set.</summary>
    public async Task<PrincipalInfo?> SignInAnonymousAsync() =>
        Options.AnonymousPrincipal is { } name ? await identities.FindAsync(name) : null;
}
