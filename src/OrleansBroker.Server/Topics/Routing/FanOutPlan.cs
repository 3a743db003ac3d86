using OrleansBroker.Messages;
using OrleansBroker.Topics;

namespace OrleansBroker.Server.Topics.Routing;

/// <summary>Where one publish goes: each subscription's copies, the dead letters of failed transforms, the retained copies.</summary>
internal sealed class FanOutPlan(int count)
{
    /// <summary>One per message, in order: its id and the subscriptions that took it.</summary>
    public TopicReceipt[] Receipts { get; } = new TopicReceipt[count];

    /// <summary>Copies per subscription, as that subscription holds them (transformed).</summary>
    public Dictionary<Route, List<BrokerMessage>> Copies { get; } = [];

    /// <summary>Per subscription, the messages its transform failed on: they go to its dead-letter queue.</summary>
    public Dictionary<Route, List<BrokerMessage>> DeadLetters { get; } = [];

    /// <summary>The messages as the topic retains them, when it does.</summary>
    public List<BrokerMessage>? Retained { get; set; }

    /// <summary>Messages no subscription took.</summary>
    public long Unrouted { get; set; }
}
