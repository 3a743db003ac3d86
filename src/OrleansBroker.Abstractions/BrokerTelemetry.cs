namespace OrleansBroker;

/// <summary>
/// Names under which the broker reports: add them to an OpenTelemetry meter or tracer provider (the silo's HTTP listener
/// does so for its Prometheus endpoint and OTLP export).
/// </summary>
public static class BrokerTelemetry
{
    /// <summary>The silo's meter: queue depths and counters, messages dead-lettered by reason, publish and commit durations.</summary>
    public const string MeterName = "OrleansBroker";

    /// <summary>The client's meter: handler duration and end-to-end latency (enqueued to acked) of handler consumers.</summary>
    public const string ClientMeterName = "OrleansBroker.Client";

    /// <summary>
    /// The activity source of publish (<c>send &lt;queue&gt;</c>, producer) and handler (<c>process &lt;queue&gt;</c>, consumer)
    /// spans, following OpenTelemetry's messaging conventions; the W3C trace context travels in the message's
    /// <c>traceparent</c> and <c>tracestate</c> headers.
    /// </summary>
    public const string ActivitySourceName = "OrleansBroker";
}
