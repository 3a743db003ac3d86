using Microsoft.Extensions.DependencyInjection;
using OpenTelemetry.Metrics;
using OpenTelemetry.Resources;
using OpenTelemetry.Trace;
using OrleansBroker.Errors;

namespace OrleansBroker.Http.Hosting;

/// <summary>
/// OpenTelemetry in the silo: the broker's and Orleans' meters for the Prometheus endpoint (<c>/metrics</c> on the HTTP
/// port) and, when <c>Broker:Otlp:Endpoint</c> names a collector, metrics and traces (the broker's spans) over OTLP too.
/// Without a collector no tracer listens, so publishing and handling make no spans at all.
/// </summary>
internal static class BrokerTelemetrySetup
{
    /// <summary>The meter Orleans reports under (calls, activations, messaging, storage).</summary>
    public const string OrleansMeterName = "Microsoft.Orleans";

    /// <summary>ASP.NET Core's request spans: an HTTP publish continues the trace of the request that carries it.</summary>
    public const string AspNetCoreSourceName = "Microsoft.AspNetCore";

    /// <summary>
    /// Series each instrument of Orleans' and the client's meters may have. OpenTelemetry allocates room for the limit
    /// up front, per instrument (2,000 series of about 72 bytes by default): over Orleans' hundred-odd instruments that
    /// was 20 MB of every silo's memory, for instruments whose labels (grain type, direction) make a few dozen series. The
    /// broker's own meter keeps OpenTelemetry's default; its per-queue series are bounded by <c>Broker:MetricsMaxQueueSeries</c>.
    /// </summary>
    public const int OtherMetersSeriesLimit = 200;

    /// <summary>
    /// Adds OpenTelemetry once: metrics unless <paramref name="metrics"/> is false and no collector is named (then nothing
    /// listens to the broker's meter at all), traces only with a collector.
    /// </summary>
    public static void Add(IServiceCollection services, string? otlpEndpoint, bool metrics = true)
    {
        if (services.Any(d => d.ServiceType == typeof(Marker)))
        {
            return;
        }

        services.AddSingleton<Marker>();
        var endpoint = otlpEndpoint is { Length: > 0 } given
            ? Uri.TryCreate(given, UriKind.Absolute, out var uri) ? uri
                : throw new BrokerException(BrokerErrorCode.InvalidOptions, $"Broker:Otlp:Endpoint '{given}' is not an absolute URI (as http://collector:4317).")
            : null;
        if (!metrics && endpoint is null)
        {
            return;
        }

        var telemetry = services.AddOpenTelemetry()
            .ConfigureResource(resource => resource.AddService("orleans-broker"))
            .WithMetrics(meters =>
            {
                meters.AddMeter(BrokerTelemetry.MeterName, BrokerTelemetry.ClientMeterName, OrleansMeterName);
                meters.AddView(instrument => instrument.Meter.Name == BrokerTelemetry.MeterName
                    ? null
                    : new MetricStreamConfiguration { CardinalityLimit = OtherMetersSeriesLimit });
                if (metrics)
                {
                    meters.AddPrometheusExporter();
                }

                if (endpoint is not null)
                {
                    meters.AddOtlpExporter(otlp => otlp.Endpoint = endpoint);
                }
            });
        if (endpoint is not null)
        {
            telemetry.WithTracing(tracing => tracing.AddSource(BrokerTelemetry.ActivitySourceName, AspNetCoreSourceName).AddOtlpExporter(otlp => otlp.Endpoint = endpoint));
        }
    }

    private sealed class Marker;
}
