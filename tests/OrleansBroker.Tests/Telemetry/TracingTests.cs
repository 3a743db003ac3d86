using System.Diagnostics;
using System.Text;
using OpenTelemetry;
using OpenTelemetry.Trace;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Telemetry;

/// <summary>
/// One message followed from its publish to its handler through a silo, as an OpenTelemetry tracer (in-memory exporter)
/// records it: a <c>send</c> producer span, the trace context in the message's headers, a <c>process</c> consumer span in
/// the same trace under it. Alone in the run: a tracer listens to every client in the process, so other tests' messages
/// would carry trace headers while it runs.
/// </summary>
[Collection(nameof(TracingTests))]
public sealed class TracingTests
{
    [Fact]
    public async Task A_message_is_followed_from_send_to_process_in_one_trace()
    {
        var spans = new List<Activity>();
        using var tracer = Sdk.CreateTracerProviderBuilder().AddSource(BrokerTelemetry.ActivitySourceName).AddInMemoryExporter(spans).Build();
        await using var cluster = await BrokerCluster.StartAsync();
        var queue = $"traced-{Guid.NewGuid():N}";
        await cluster.Admin.CreateQueueAsync(queue, new QueueOptions());

        var handled = new TaskCompletionSource<(Delivery Delivery, ActivityContext Context)>(TaskCreationOptions.RunContinuationsAsynchronously);
        await using var consumer = await cluster.Broker.ConsumeAsync(queue, (delivery, _) =>
        {
            handled.TrySetResult((delivery, Activity.Current!.Context));
            return Task.CompletedTask;
        });

        PublishReceipt receipt;
        using (var request = new ActivitySource("tests.caller").StartActivity("caller"))
        {
            receipt = await cluster.Broker.PublishAsync(queue, new BrokerMessage("order-1", Encoding.UTF8.GetBytes("{}")));
        }

        var (delivery, processContext) = await handled.Task.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.Equal("order-1", receipt.MessageId);
        await Eventually.HoldsAsync(() => { lock (spans) { return spans.Any(s => s.DisplayName == $"process {queue}"); } }, "the process span exported");

        Activity send, process;
        lock (spans)
        {
            send = Assert.Single(spans, s => s.DisplayName == $"send {queue}");
            process = Assert.Single(spans, s => s.DisplayName == $"process {queue}");
        }

        Assert.Equal(ActivityKind.Producer, send.Kind);
        Assert.Equal(ActivityKind.Consumer, process.Kind);
        Assert.Equal(send.TraceId, process.TraceId);
        Assert.Equal(send.SpanId, process.ParentSpanId);
        Assert.Equal(processContext.SpanId, process.SpanId);
        Assert.Equal(send.Id, delivery.Headers!["traceparent"]);
        foreach (var span in new[] { send, process })
        {
            Assert.Equal("orleans-broker", span.GetTagItem("messaging.system"));
            Assert.Equal(queue, span.GetTagItem("messaging.destination.name"));
            Assert.Equal("order-1", span.GetTagItem("messaging.message.id"));
        }

        Assert.Equal("send", send.GetTagItem("messaging.operation.type"));
        Assert.Equal("process", process.GetTagItem("messaging.operation.type"));
    }

    [Fact]
    public async Task A_receive_is_a_consumer_span_linked_to_the_trace_of_each_message_it_took()
    {
        var spans = new List<Activity>();
        using var tracer = Sdk.CreateTracerProviderBuilder().AddSource(BrokerTelemetry.ActivitySourceName).AddInMemoryExporter(spans).Build();
        await using var cluster = await BrokerCluster.StartAsync();
        var queue = $"pulled-{Guid.NewGuid():N}";
        await cluster.Admin.CreateQueueAsync(queue, new QueueOptions());
        await cluster.Broker.PublishAsync(queue, new BrokerMessage("first", Encoding.UTF8.GetBytes("1")));
        await cluster.Broker.PublishAsync(queue, new BrokerMessage("second", Encoding.UTF8.GetBytes("2")));

        var taken = await cluster.Broker.ReceiveAsync(queue, maxMessages: 10, maxWait: TimeSpan.FromSeconds(10));
        Assert.Equal(2, taken.Count);
        tracer.ForceFlush();

        Activity receive;
        List<Activity> sends;
        lock (spans)
        {
            receive = Assert.Single(spans, s => s.DisplayName == $"receive {queue}");
            sends = [.. spans.Where(s => s.DisplayName == $"send {queue}")];
        }

        Assert.Equal(ActivityKind.Consumer, receive.Kind);
        Assert.Equal(2, receive.GetTagItem("messaging.batch.message_count"));
        Assert.Equal(sends.Select(s => s.Context.SpanId.ToHexString()).Order(), receive.Links.Select(l => l.Context.SpanId.ToHexString()).Order());
    }

    [Fact]
    public async Task Without_a_tracer_a_publish_adds_no_trace_headers()
    {
        await using var cluster = await BrokerCluster.StartAsync();
        var queue = $"untraced-{Guid.NewGuid():N}";
        await cluster.Admin.CreateQueueAsync(queue, new QueueOptions());
        await cluster.Broker.PublishAsync(queue, new BrokerMessage("plain", Encoding.UTF8.GetBytes("{}")));
        var peeked = Assert.Single(await cluster.Broker.PeekAsync(queue, 0, 10));

        // Only this class makes tracers in the test process, and its tests run one at a time.
        Assert.False(new ActivitySource(BrokerTelemetry.ActivitySourceName).HasListeners());
        Assert.False(peeked.Headers?.ContainsKey("traceparent") ?? false);
    }
}

/// <summary>The tracing tests run by themselves, never beside other tests.</summary>
[CollectionDefinition(nameof(TracingTests), DisableParallelization = true)]
public sealed class TracingCollection;
