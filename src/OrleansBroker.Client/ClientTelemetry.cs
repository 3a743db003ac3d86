using System.Diagnostics;
using System.Diagnostics.Metrics;
using OrleansBroker.Messages;

namespace OrleansBroker.Client;

/// <summary>
/// The client's spans and measurements, following OpenTelemetry's messaging conventions: a publish is a
/// <c>send &lt;destination&gt;</c> producer span whose W3C trace context (<c>traceparent</c>, <c>tracestate</c>) travels in
/// the message's headers; a handler consumer runs each delivery in a <c>process &lt;queue&gt;</c> consumer span that
/// continues that trace. Nothing is started, and no header added, while no tracer listens.
/// </summary>
internal static class ClientTelemetry
{
    public const string TraceParent = "traceparent";
    public const string TraceState = "tracestate";
    private const string System = "orleans-broker";

    private static readonly ActivitySource Source = new(BrokerTelemetry.ActivitySourceName);
    private static readonly Meter Meter = new(BrokerTelemetry.ClientMeterName);

    private static readonly Histogram<double> HandlerDuration = Meter.CreateHistogram<double>("obroker.consumer.handler.duration", "s",
        "How long a handler consumer's handler ran for one delivery.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });

    private static readonly Histogram<double> EndToEnd = Meter.CreateHistogram<double>("obroker.message.end_to_end.duration", "s",
        "From a message being enqueued to its handler completing it (the broker's clock to this client's: keep them in step).",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300] });

    /// <summary>
    /// Starts the producer span of a publish to <paramref name="destination"/> when a tracer listens, and gives the
    /// messages carrying its trace context; otherwise no span and the messages as they are.
    /// </summary>
    public static (Activity? Activity, IReadOnlyList<BrokerMessage> Messages) StartSend(string destination, IReadOnlyList<BrokerMessage> messages)
    {
        var activity = Source.HasListeners() ? Source.StartActivity($"send {destination}", ActivityKind.Producer) : null;
        if (activity is null)
        {
            return (null, messages);
        }

        activity.SetTag("messaging.system", System);
        activity.SetTag("messaging.operation.type", "send");
        activity.SetTag("messaging.operation.name", "send");
        activity.SetTag("messaging.destination.name", destination);
        if (messages.Count == 1)
        {
            if (messages[0].Id is { } id)
            {
                activity.SetTag("messaging.message.id", id);
            }
        }
        else
        {
            activity.SetTag("messaging.batch.message_count", messages.Count);
        }

        // Messages without headers of their own share one dictionary holding the context (messages are never changed).
        var context = new Dictionary<string, string>(2, StringComparer.Ordinal) { [TraceParent] = activity.Id! };
        if (activity.TraceStateString is { } state)
        {
            context[TraceState] = state;
        }

        var traced = new BrokerMessage[messages.Count];
        for (var i = 0; i < traced.Length; i++)
        {
            if (messages[i].Headers is not { Count: > 0 } given)
            {
                traced[i] = messages[i] with { Headers = context };
                continue;
            }

            var headers = new Dictionary<string, string>(given, StringComparer.Ordinal);
            headers.Remove(TraceState);
            foreach (var (name, value) in context)
            {
                headers[name] = value;
            }

            traced[i] = messages[i] with { Headers = headers };
        }

        return (activity, traced);
    }

    /// <summary>Whether a tracer listens: publishes take the traced path only then.</summary>
    public static bool Listening => Source.HasListeners();

    /// <summary>Runs a publish of <paramref name="messages"/> in its send span.</summary>
    public static async Task<T> SendAsync<T>(string destination, IReadOnlyList<BrokerMessage> messages, Func<IReadOnlyList<BrokerMessage>, Task<T>> send, Func<T, string?> messageId)
    {
        var (activity, traced) = StartSend(destination, messages);
        try
        {
            var result = await send(traced).ConfigureAwait(false);
            EndSend(activity, messageId(result), null);
            return result;
        }
        catch (Exception exception)
        {
            EndSend(activity, null, exception);
            throw;
        }
    }

    /// <summary>Ends a send span with the receipt's message id, or as failed.</summary>
    public static void EndSend(Activity? activity, string? messageId, Exception? error)
    {
        if (activity is null)
        {
            return;
        }

        if (messageId is not null)
        {
            activity.SetTag("messaging.message.id", messageId);
        }

        if (error is not null)
        {
            Failed(activity, error);
        }

        activity.Dispose();
    }

    /// <summary>The consumer span of a pull receive from <paramref name="queue"/> (a .NET receive, or one over HTTP in the silo).</summary>
    public static Activity? StartReceive(string queue)
    {
        var activity = Source.StartActivity($"receive {queue}", ActivityKind.Consumer);
        activity?.SetTag("messaging.system", System);
        activity?.SetTag("messaging.operation.type", "receive");
        activity?.SetTag("messaging.operation.name", "receive");
        activity?.SetTag("messaging.destination.name", queue);
        return activity;
    }

    /// <summary>Links a receive span to the trace each received message was published in.</summary>
    public static void Received(Activity? activity, IReadOnlyList<Delivery> deliveries)
    {
        if (activity is null)
        {
            return;
        }

        activity.SetTag("messaging.batch.message_count", deliveries.Count);
        foreach (var delivery in deliveries)
        {
            if (delivery.Headers is { } headers && headers.TryGetValue(TraceParent, out var traceParent)
                && ActivityContext.TryParse(traceParent, headers.GetValueOrDefault(TraceState), isRemote: true, out var context))
            {
                activity.AddLink(new ActivityLink(context, new ActivityTagsCollection { ["messaging.message.id"] = delivery.MessageId }));
            }
        }
    }

    /// <summary>Marks a span failed.</summary>
    public static void Failed(Activity? activity, Exception error)
    {
        activity?.SetStatus(ActivityStatusCode.Error, error.Message);
        activity?.SetTag("error.type", error.GetType().FullName);
    }

    /// <summary>The consumer span of handling <paramref name="delivery"/>, in the trace its message was published in.</summary>
    public static Activity? StartProcess(Delivery delivery)
    {
        if (!Source.HasListeners())
        {
            return null;
        }

        ActivityContext parent = default;
        if (delivery.Headers is { } headers && headers.TryGetValue(TraceParent, out var traceParent))
        {
            _ = ActivityContext.TryParse(traceParent, headers.GetValueOrDefault(TraceState), isRemote: true, out parent);
        }

        var activity = Source.StartActivity($"process {delivery.Queue}", ActivityKind.Consumer, parent);
        if (activity is not null)
        {
            activity.SetTag("messaging.system", System);
            activity.SetTag("messaging.operation.type", "process");
            activity.SetTag("messaging.operation.name", "process");
            activity.SetTag("messaging.destination.name", delivery.Queue);
            activity.SetTag("messaging.message.id", delivery.MessageId);
            activity.SetTag("messaging.message.delivery_attempt", delivery.Attempt);
        }

        return activity;
    }

    /// <summary>Ends a process span and records the handler's time and, when it completed the message, the end-to-end time.</summary>
    public static void EndProcess(Activity? activity, Delivery delivery, long startedTimestamp, bool completed, Exception? error)
    {
        var tags = new KeyValuePair<string, object?>("outcome", completed ? "completed" : "failed");
        HandlerDuration.Record(Stopwatch.GetElapsedTime(startedTimestamp).TotalSeconds, tags);
        if (completed)
        {
            EndToEnd.Record(Math.Max(0, (DateTimeOffset.UtcNow - delivery.EnqueuedAt).TotalSeconds));
        }

        if (activity is not null)
        {
            if (error is not null)
            {
                Failed(activity, error);
            }

            activity.Dispose();
        }
    }
}
