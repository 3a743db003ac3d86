using System.Diagnostics.Metrics;

namespace OrleansBroker.Push.Pushing;

/// <summary>
/// Push delivery's instruments on the broker's meter (<see cref="BrokerTelemetry.MeterName"/>): requests by outcome and the
/// endpoints pushed to from this silo.
/// </summary>
internal sealed class PushMetrics
{
    private static readonly KeyValuePair<string, object?>[] Acked = [new("outcome", "acked")];
    private static readonly KeyValuePair<string, object?>[] Failed = [new("outcome", "failed")];
    private readonly Counter<long> _requests;
    private int _endpoints;

    public PushMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(BrokerTelemetry.MeterName);
        _requests = meter.CreateCounter<long>("obroker.push.requests", "{request}", "Push requests that ended, by outcome (acked: a 2xx answer; failed: any other answer, a timeout or a connection error).");
        meter.CreateObservableUpDownCounter("obroker.push.endpoints", () => Volatile.Read(ref _endpoints), "{endpoint}", "Queues this silo pushes to their endpoints now.");
    }

    public void Pushed(bool acked)
    {
        if (_requests.Enabled)
        {
            _requests.Add(1, acked ? Acked : Failed);
        }
    }

    public void Started() => Interlocked.Increment(ref _endpoints);

    public void Stopped() => Interlocked.Decrement(ref _endpoints);
}
