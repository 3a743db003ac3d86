using OrleansBroker.Messages;
using OrleansBroker.Server.Topics.Transforms;
using OrleansBroker.Topics;

namespace OrleansBroker.Server.Topics.Routing;

/// <summary>
/// A topic's subscriptions compiled for routing, and the routing of a publish: which subscription takes which message,
/// transformed how, and what the topic retains. Immutable: a change of subscriptions makes a new router, so a publish
/// under way keeps the set it started with.
/// </summary>
internal sealed class TopicRouter
{
    private readonly string _topic;
    private readonly bool _retains;

    public TopicRouter(string topic, TopicOptions options, IEnumerable<Subscription> subscriptions, TransformRegistry transforms)
    {
        _topic = topic;
        _retains = options.Retains;
        Routes = [.. subscriptions.OrderBy(s => s.Name, StringComparer.Ordinal).Select(s => new Route(s, s.QueueName(topic),
            s.Transform is { } spec && transforms.TryGet(spec.Name, out var transform) ? transform : null))];
    }

    /// <summary>The subscriptions, by name.</summary>
    public IReadOnlyList<Route> Routes { get; }

    /// <summary>The queue that retains the topic's messages (whether the topic retains or not).</summary>
    public static string RetainedQueue(string topic) => $"{topic}/{TopicOptions.RetainedSubscription}";

    public Route? Find(string subscription) => Routes.FirstOrDefault(r => r.Subscription.Name == subscription);

    /// <summary>
    /// Routes a publish: every message checked against the limits and given an id if it has none (one id for every copy:
    /// what makes a retried fan-out idempotent in each subscription), then matched against each subscription.
    /// </summary>
    public FanOutPlan Plan(IReadOnlyList<BrokerMessage> messages, DateTimeOffset now, int maxMessageBytes)
    {
        var plan = new FanOutPlan(messages.Count);
        var identified = new BrokerMessage[messages.Count];
        for (var i = 0; i < messages.Count; i++)
        {
            MessageValidator.Validate(messages[i], maxMessageBytes);
            var message = identified[i] = messages[i].Id is null ? messages[i] with { Id = Guid.CreateVersion7().ToString("N") } : messages[i];
            var matched = new List<string>();
            List<string>? deadLettered = null;
            foreach (var route in Routes)
            {
                if (!route.Matches(message))
                {
                    continue;
                }

                matched.Add(route.Subscription.Name);
                if (route.TryTransform(message, _topic, now, maxMessageBytes, out var routed))
                {
                    Add(plan.Copies, route, routed);
                }
                else
                {
                    (deadLettered ??= []).Add(route.Subscription.Name);
                    Add(plan.DeadLetters, route, routed);
                }
            }

            plan.Unrouted += matched.Count == 0 ? 1 : 0;
            plan.Receipts[i] = new TopicReceipt(message.Id!, matched, deadLettered);
        }

        if (_retains)
        {
            // The retained copy expires by the topic's retention, not by the message's own time to live or schedule.
            plan.Retained = [.. identified.Select(m => m with { TimeToLive = null, DeliverAt = null, Delay = null })];
        }

        return plan;
    }

    private static void Add(Dictionary<Route, List<BrokerMessage>> byRoute, Route route, BrokerMessage message)
    {
        if (!byRoute.TryGetValue(route, out var list))
        {
            byRoute[route] = list = [];
        }

        list.Add(message);
    }
}
