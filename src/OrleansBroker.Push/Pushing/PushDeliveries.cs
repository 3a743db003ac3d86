using System.Collections.Concurrent;
using OrleansBroker.Errors;
using OrleansBroker.Queues;
using OrleansBroker.Server.Push;

namespace OrleansBroker.Push.Pushing;

/// <summary>The silo's push workers, one per queue active here with a push endpoint.</summary>
internal sealed class PushDeliveries(PushEdge edge) : IPushDelivery
{
    private readonly ConcurrentDictionary<string, PushWorker> _workers = new(StringComparer.Ordinal);

    public void CheckAllowed(PushEndpoint endpoint)
    {
        if (!edge.Options.Enabled)
        {
            throw new BrokerException(BrokerErrorCode.InvalidOptions, "Push delivery is turned off on this silo (Broker:Push:Enabled is false).");
        }

        edge.Hosts.Check(new Uri(endpoint.Url));
    }

    public void Start(string queue, QueueOptions options)
    {
        if (!edge.Options.Enabled)
        {
            return;
        }

        while (true)
        {
            if (_workers.TryGetValue(queue, out var running))
            {
                if (running.Options == options)
                {
                    return;
                }

                if (_workers.TryRemove(new KeyValuePair<string, PushWorker>(queue, running)))
                {
                    _ = running.StopAsync();
                    edge.Metrics.Stopped();
                }

                continue;
            }

            var worker = new PushWorker(edge, queue, options);
            if (_workers.TryAdd(queue, worker))
            {
                edge.Metrics.Started();
                worker.Start();
                return;
            }
        }
    }

    public void Stop(string queue)
    {
        if (_workers.TryRemove(queue, out var worker))
        {
            edge.Metrics.Stopped();
            _ = worker.StopAsync();
        }
    }

    public PushStatus? Status(string queue) => _workers.TryGetValue(queue, out var worker) ? worker.Status : null;
}
