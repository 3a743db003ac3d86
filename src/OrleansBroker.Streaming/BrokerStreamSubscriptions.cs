using Microsoft.Extensions.Logging;
using OrleansBroker.Client;
using OrleansBroker.Errors;
using OrleansBroker.Topics;

namespace OrleansBroker.Streaming;

/// <summary>
/// Each listed topic's stream subscription (<c>&lt;topic&gt;/orleans-&lt;provider&gt;</c>), and the topic when it is missing,
/// created while the silo starts: the silo reports started only once they exist, so an event published right after
/// start is kept for the grains. A subscription that exists with other options stops the start with the reason.
/// The pulling agents make sure of it again whenever they (re)start consuming.
/// </summary>
internal sealed partial class BrokerStreamSubscriptions(string providerName, BrokerStreamOptions options, IBrokerAdministrationClient admin, ILogger<BrokerStreamSubscriptions> logger)
    : ILifecycleParticipant<ISiloLifecycle>
{
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe($"{nameof(BrokerStreamSubscriptions)}-{providerName}", ServiceLifecycleStage.Active, CreateAllAsync);

    private async Task CreateAllAsync(CancellationToken cancellationToken)
    {
        var subscription = options.ResolveSubscriptionName(providerName);
        foreach (var topic in options.Topics)
        {
            try
            {
                await EnsureAsync(topic, subscription, cancellationToken).ConfigureAwait(false);
            }
            catch (BrokerException exception)
            {
                throw new BrokerException(exception.Code,
                    $"Stream provider '{providerName}' could not create its subscription {topic}/{subscription}: {exception.Message}");
            }
        }
    }

    /// <summary>Creates the topic if missing and the subscription; idempotent with the same filter and options.</summary>
    public async Task EnsureAsync(string topic, string subscription, CancellationToken cancellationToken)
    {
        try
        {
            await admin.GetTopicInfoAsync(topic, cancellationToken).ConfigureAwait(false);
        }
        catch (BrokerException exception) when (exception.Code == BrokerErrorCode.TopicNotFound)
        {
            await admin.CreateTopicAsync(topic, null, cancellationToken).ConfigureAwait(false);
            LogCreatedTopic(topic);
        }

        await admin.CreateSubscriptionAsync(topic, new Subscription(subscription, options.Filter, options.Subscription), null, cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created topic {Topic} (default options) for the stream provider.")]
    private partial void LogCreatedTopic(string topic);
}
