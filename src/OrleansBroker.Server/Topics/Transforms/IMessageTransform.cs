using OrleansBroker.Messages;

namespace OrleansBroker.Server.Topics.Transforms;

/// <summary>
/// A transform a topic subscription can apply to messages on their way into its queue, registered on every
/// silo by <see cref="Name"/> (<c>services.AddBrokerTransform&lt;T&gt;()</c>). Implementations are singletons
/// called concurrently: keep them stateless. Throwing from <see cref="Apply"/> sends that message to the
/// subscription's dead-letter queue with the exception's message as the reason.
/// </summary>
public interface IMessageTransform
{
    /// <summary>The name subscriptions use; unique per silo.</summary>
    string Name { get; }

    /// <summary>Checks settings when a subscription is created; throw <see cref="ArgumentException"/> naming the problem.</summary>
    void Validate(IReadOnlyDictionary<string, string> settings);

    /// <summary>The message as the subscription should hold it. Keep <see cref="BrokerMessage.Id"/>: deduplication of a retried fan-out relies on it.</summary>
    BrokerMessage Apply(BrokerMessage message, TransformContext context);
}

/// <summary>Where a transform runs: topic, subscription, its settings and the broker's clock.</summary>
public sealed record TransformContext(string Topic, string Subscription, IReadOnlyDictionary<string, string> Settings, DateTimeOffset Now)
{
    /// <summary>A setting, or <paramref name="fallback"/> when it is absent.</summary>
    public string Setting(string name, string fallback) => Settings.TryGetValue(name, out var value) ? value : fallback;
}
