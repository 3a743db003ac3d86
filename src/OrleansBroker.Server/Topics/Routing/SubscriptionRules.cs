using OrleansBroker.Errors;
using OrleansBroker.Queues;
using OrleansBroker.Server.Topics.Transforms;
using OrleansBroker.Topics;

namespace OrleansBroker.Server.Topics.Routing;

/// <summary>What a new subscription must be: a name, a filter and queue options that hold, and a transform this silo has, with a dead-letter queue.</summary>
internal static class SubscriptionRules
{
    /// <summary>Checks <paramref name="subscription"/> of <paramref name="topic"/>; returns its queue's name or throws a typed error.</summary>
    public static string Validate(string topic, Subscription subscription, TransformRegistry transforms)
    {
        var problem = QueueName.Explain(subscription.Name)
            ?? (QueueName.IsSubscriptionQueue(subscription.Name) ? $"Subscription name '{subscription.Name}' may not contain '/'." : null)
            ?? (subscription.Name == TopicOptions.RetainedSubscription ? $"Subscription name '{TopicOptions.RetainedSubscription}' is reserved for the topic's retained messages." : null);
        if (problem is not null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidName, problem);
        }

        if (subscription.Filter is null || subscription.Queue is null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, "A subscription needs a Filter (SubscriptionFilter.All for every message) and Queue options.");
        }

        subscription.Filter.Validate();
        var queue = subscription.QueueName(topic);
        subscription.Queue.Validate(queue);
        ValidateTransform(subscription, queue, transforms);
        return queue;
    }

    private static void ValidateTransform(Subscription subscription, string queue, TransformRegistry transforms)
    {
        if (subscription.Transform is not { } spec)
        {
            return;
        }

        if (string.IsNullOrEmpty(spec.Name) || !transforms.TryGet(spec.Name, out var transform))
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Unknown transform '{spec.Name}'; this silo has {string.Join(", ", transforms.Names)} (register others with AddBrokerTransform<T>() on every silo).");
        }

        try
        {
            transform.Validate(spec.Settings ?? new Dictionary<string, string>());
        }
        catch (ArgumentException exception)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Subscription '{subscription.Name}': {exception.Message}.");
        }

        if (subscription.Queue.ResolveDeadLetterQueue(queue) is null)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions,
                $"Subscription '{subscription.Name}' has a transform but no dead-letter queue: messages the transform fails on would have nowhere to go.");
        }
    }
}
