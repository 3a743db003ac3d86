using OrleansBroker.Messages;
using OrleansBroker.Server.Queues.DeadLetters;
using OrleansBroker.Server.Topics.Transforms;
using OrleansBroker.Topics;

namespace OrleansBroker.Server.Topics.Routing;

/// <summary>A subscription compiled for routing: its patterns parsed once, its transform resolved.</summary>
internal sealed class Route(Subscription subscription, string queue, IMessageTransform? transform)
{
    private readonly IReadOnlyDictionary<string, string> _settings = subscription.Transform?.Settings ?? new Dictionary<string, string>();

    private readonly RoutingPattern[]? _patterns = subscription.Filter.RoutingKeys is { Count: > 0 } keys ? [.. keys.Select(RoutingPattern.Compile)] : null;

    public Subscription Subscription { get; } = subscription;

    /// <summary>The subscription's queue.</summary>
    public string Queue { get; } = queue;

    /// <summary>Where its transform's failures go: the queue's dead-letter queue (subscribe makes sure one with a transform has one).</summary>
    public string? DeadLetterQueue => Subscription.Queue.ResolveDeadLetterQueue(Queue);

    public bool Matches(BrokerMessage message)
    {
        if (_patterns is not null && !_patterns.Any(p => p.Matches(message.RoutingKey)))
        {
            return false;
        }

        if (Subscription.Filter.Headers is { } predicates)
        {
            foreach (var predicate in predicates)
            {
                if (!predicate.Matches(message.Headers))
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>
    /// The message as this subscription holds it: transformed (and checked against the limits), or, when the
    /// transform fails, a dead letter for the subscription's dead-letter queue (false).
    /// </summary>
    public bool TryTransform(BrokerMessage message, string topic, DateTimeOffset now, int maxBodyBytes, out BrokerMessage routed)
    {
        routed = message;
        if (Subscription.Transform is not { } spec)
        {
            return true;
        }

        try
        {
            // A transform missing here (registered on another silo only) is a failure like any other: the message is kept, in the DLQ.
            var transformed = (transform ?? throw new InvalidOperationException($"no transform '{spec.Name}' is registered on this silo"))
                .Apply(message, new TransformContext(topic, Subscription.Name, _settings, now));
            MessageValidator.Validate(transformed with { Id = message.Id }, maxBodyBytes);
            routed = transformed with { Id = message.Id };
            return true;
        }
        catch (Exception exception)
        {
            // Held as it came, without schedule or time to live: a dead letter waits for a person, not a clock.
            var headers = DeadLetterHeaders.With(message.Headers, $"transform '{spec.Name}' failed: {exception.Message}", Queue, 0, now);
            routed = message with { Headers = headers, DeliverAt = null, Delay = null, TimeToLive = null };
            return false;
        }
    }
}
