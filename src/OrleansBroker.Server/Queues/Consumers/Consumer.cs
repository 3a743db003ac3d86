using OrleansBroker.Messages;
using OrleansBroker.Queues;

namespace OrleansBroker.Server.Queues.Consumers;

/// <summary>A registered push consumer as its queue tracks it.</summary>
internal sealed class Consumer(string id, IConsumerObserver observer, int prefetch, DateTimeOffset now)
{
    public string Id { get; } = id;

    public IConsumerObserver Observer { get; set; } = observer;

    public int Prefetch { get; set; } = prefetch;

    /// <summary>Deliveries leased to this consumer and not settled, including those still in <see cref="Outbox"/>.</summary>
    public int InFlight { get; set; }

    public DateTimeOffset LastSeen { get; set; } = now;

    /// <summary>Deliveries waiting for the consumer's previous batch call to return.</summary>
    public List<Delivery> Outbox { get; set; } = [];

    /// <summary>The commit that makes the attempt counts of everything in <see cref="Outbox"/> durable (started when they were leased).</summary>
    public Task OutboxDurable { get; set; } = Task.CompletedTask;

    /// <summary>The send loop of this consumer: one Deliver call at a time; completed when nothing is being sent.</summary>
    public Task Send { get; set; } = Task.CompletedTask;

    /// <summary>A Deliver call to it failed: nothing more goes to it until it registers again (renewal), which proves it reachable.</summary>
    public bool Suspended { get; set; }

    public bool HasCredit => !Suspended && InFlight < Prefetch;
}
