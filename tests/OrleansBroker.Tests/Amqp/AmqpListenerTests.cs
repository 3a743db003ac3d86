using System.Text;
using Amqp;
using Amqp.Framing;
using Amqp.Sasl;
using Amqp.Types;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Topics;
using Xunit;
using static OrleansBroker.Tests.Amqp.AmqpTestExtensions;

namespace OrleansBroker.Tests.Amqp;

/// <summary>The AMQP 1.0 listener of a silo-host process, with AMQP.Net Lite's client over real sockets.</summary>
public sealed class AmqpListenerTests(AmqpSilo broker) : IClassFixture<AmqpSilo>
{
    [Fact]
    public async Task Sasl_refuses_a_wrong_password_a_principal_without_permission_in_its_tenant_and_anonymous_when_none_is_configured()
    {
        await Assert.ThrowsAnyAsync<Exception>(() => broker.ConnectAsync("admin", "not the password"));
        await Assert.ThrowsAnyAsync<Exception>(() => broker.ConnectAsync("stranger", AmqpSilo.ClerkPassword));
        var anonymous = new ConnectionFactory();
        anonymous.SASL.Profile = SaslProfile.Anonymous;
        await Assert.ThrowsAnyAsync<Exception>(() => anonymous.CreateAsync(new Address($"amqp://127.0.0.1:{broker.Port}")));
        Assert.Contains("refused: bad user name or password", broker.Silo.Output, StringComparison.Ordinal);
        Assert.Contains("principal 'stranger' has no permission in its tenant", broker.Silo.Output, StringComparison.Ordinal);

        var clerk = await broker.ConnectAsync("clerk", AmqpSilo.ClerkPassword);
        await clerk.CloseAsync();
    }

    [Fact]
    public async Task A_message_keeps_its_fields_from_an_amqp_sender_to_an_amqp_receiver()
    {
        var queue = await broker.CreateQueueAsync();
        var connection = await broker.ConnectAsync();
        var session = new Session(connection);
        var sender = new SenderLink(session, "fields-sender", $"/queues/{queue}");
        var full = Text("full", "id-1");
        full.Properties.CorrelationId = "corr-1";
        full.Properties.Subject = "eu.orders";
        full.Properties.ContentType = "text/plain";
        full.Properties.ReplyTo = "/queues/replies";
        full.Properties.GroupId = "customer-7";
        full.Header = new Header { Priority = 7, Ttl = 3_600_000 };
        full.ApplicationProperties = new ApplicationProperties { ["text"] = "value", ["count"] = 42, ["flag"] = true };
        await sender.SendAsync(full);
        await sender.SendAsync(new Message("a string body") { Properties = new Properties { MessageId = "id-2" } });
        var map = new Map { ["k"] = "v", ["n"] = 5L };
        await sender.SendAsync(new Message(map) { Properties = new Properties { MessageId = "id-3" } });

        var receiver = new ReceiverLink(session, "fields-receiver", $"/queues/{queue}");
        var first = await receiver.NextAsync();
        Assert.Equal("full", first.BodyText());
        Assert.Equal("id-1", first.Properties.MessageId);
        Assert.Equal("corr-1", first.Properties.CorrelationId);
        Assert.Equal("eu.orders", first.Properties.Subject);
        Assert.Equal("text/plain", (string)first.Properties.ContentType);
        Assert.Equal("/queues/replies", first.Properties.ReplyTo);
        Assert.Equal("customer-7", first.Properties.GroupId);
        Assert.Equal(7, first.Header.Priority);
        Assert.Equal(0u, first.Header.DeliveryCount);
        Assert.Equal("value", first.ApplicationProperties["text"]);
        Assert.Equal("42", first.ApplicationProperties["count"]);
        Assert.Equal("true", first.ApplicationProperties["flag"]);
        receiver.Accept(first);

        var second = await receiver.NextAsync();
        Assert.Equal("a string body", Assert.IsType<AmqpValue>(second.BodySection).Value);
        receiver.Accept(second);
        var third = await receiver.NextAsync();
        var body = Assert.IsType<Map>(Assert.IsType<AmqpValue>(third.BodySection).Value);
        Assert.Equal("v", body["k"]);
        Assert.Equal(5L, body["n"]);
        receiver.Accept(third);

        await Eventually.HoldsAsync(async () => (await broker.Dotnet.Admin.GetQueueInfoAsync(queue)) is { Ready: 0, InFlight: 0, Counters.Acked: 3 }, "the three were acked");
        await connection.CloseAsync();
    }

    [Fact]
    public async Task An_amqp_send_reaches_a_dotnet_receiver_and_an_http_receive()
    {
        var queue = await broker.CreateQueueAsync();
        var connection = await broker.ConnectAsync();
        var sender = new SenderLink(new Session(connection), "interop-sender", $"/queues/{queue}");
        var message = Text("to dotnet", "m-dotnet");
        message.Properties.ContentType = "application/json";
        message.ApplicationProperties = new ApplicationProperties { ["tenant-region"] = "eu" };
        await sender.SendAsync(message);
        await sender.SendAsync(Text("to http", "m-http"));
        await connection.CloseAsync();

        var delivery = Assert.Single(await broker.Dotnet.Broker.ReceiveAsync(queue, 1, TimeSpan.FromSeconds(10)));
        Assert.Equal("m-dotnet", delivery.MessageId);
        Assert.Equal("to dotnet", Encoding.UTF8.GetString(delivery.Body));
        Assert.Equal("application/json", delivery.ContentType);
        Assert.Equal("eu", delivery.Headers!["tenant-region"]);
        await broker.Dotnet.Broker.CompleteAsync(delivery);

        var received = Assert.Single(await Http.HttpBroker.ReceiveAsync(broker.Http, queue, wait: 10));
        Assert.Equal("m-http", (string?)received!["messageId"]);
    }

    [Fact]
    public async Task A_dotnet_publish_reaches_an_amqp_receiver_and_a_topic_routes_amqp_sends_by_subject()
    {
        var queue = await broker.CreateQueueAsync();
        await broker.Dotnet.Broker.PublishAsync(queue, new BrokerMessage("from-dotnet", "hello amqp"u8.ToArray(), "text/plain",
            new Dictionary<string, string> { ["origin"] = "dotnet" }, RoutingKey: "a.b", Priority: 3));
        var connection = await broker.ConnectAsync();
        var session = new Session(connection);
        var receiver = new ReceiverLink(session, "dotnet-receiver", $"/queues/{queue}");
        var message = await receiver.NextAsync();
        Assert.Equal("from-dotnet", message.Properties.MessageId);
        Assert.Equal("hello amqp", message.BodyText());
        Assert.Equal("a.b", message.Properties.Subject);
        Assert.Equal("dotnet", message.ApplicationProperties["origin"]);
        Assert.Equal(3, message.Header.Priority);
        receiver.Accept(message);

        var topic = $"orders-t-{Guid.NewGuid():N}"[..20];
        await broker.Dotnet.Admin.CreateTopicAsync(topic);
        await broker.Dotnet.Admin.CreateSubscriptionAsync(topic, new Subscription("eu", new SubscriptionFilter(["eu.*"]), new QueueOptions()));
        var sender = new SenderLink(session, "topic-sender", $"/topics/{topic}");
        var routed = Text("for eu");
        routed.Properties.Subject = "eu.orders";
        await sender.SendAsync(routed);
        var unrouted = Text("for us");
        unrouted.Properties.Subject = "us.orders";
        Assert.Equal("amqp:message:released", await RefusedAsync(() => sender.SendAsync(unrouted)));

        var subscriber = new ReceiverLink(session, "topic-receiver", $"/topics/{topic}/subscriptions/eu");
        var fromTopic = await subscriber.NextAsync();
        Assert.Equal("for eu", fromTopic.BodyText());
        Assert.Equal("eu.orders", fromTopic.Properties.Subject);
        subscriber.Accept(fromTopic);
        Assert.Null(await subscriber.ReceiveAsync(TimeSpan.FromMilliseconds(500)));
        await connection.CloseAsync();
    }

    [Fact]
    public async Task Rejected_goes_to_the_dead_letter_queue_with_its_reason_and_modified_delivery_failed_counts_toward_max_attempts()
    {
        var queue = await broker.CreateQueueAsync(new QueueOptions { MaxDeliveryAttempts = 2 });
        var connection = await broker.ConnectAsync();
        var session = new Session(connection);
        var sender = new SenderLink(session, "dlq-sender", $"/queues/{queue}");
        await sender.SendAsync(Text("bad", "rejected-1"));
        await sender.SendAsync(Text("flaky", "modified-1"));
        var receiver = new ReceiverLink(session, "dlq-receiver", $"/queues/{queue}");
        receiver.SetCredit(1);

        var bad = await receiver.NextAsync();
        receiver.Reject(bad, new Error(new Symbol("app:invalid-order")) { Description = "no customer" });
        var flaky = await receiver.NextAsync();
        Assert.Equal("modified-1", flaky.Properties.MessageId);
        receiver.Modify(flaky, deliveryFailed: true);
        var again = await receiver.NextAsync();
        Assert.Equal("modified-1", again.Properties.MessageId);
        Assert.Equal(1u, again.Header.DeliveryCount);
        Assert.False(again.Header.FirstAcquirer);
        receiver.Modify(again, deliveryFailed: true);

        var deadLetters = QueueName.DefaultDeadLetterQueue(queue);
        await Eventually.HoldsAsync(async () => (await broker.Dotnet.Broker.PeekAsync(deadLetters)).Count == 2, "both are dead letters");
        var peeked = await broker.Dotnet.Broker.PeekAsync(deadLetters);
        var rejected = Assert.Single(peeked, p => p.MessageId == "rejected-1");
        Assert.Equal("app:invalid-order: no customer", rejected.Headers![BrokerHeaders.DeadLetterReason]);
        Assert.Single(peeked, p => p.MessageId == "modified-1");
        Assert.Null(await receiver.ReceiveAsync(TimeSpan.FromMilliseconds(500)));
        await connection.CloseAsync();
    }

    [Fact]
    public async Task Released_comes_back_at_once_and_a_lease_lost_while_unsettled_goes_to_another_receiver()
    {
        var queue = await broker.CreateQueueAsync(new QueueOptions { LeaseDuration = TimeSpan.FromSeconds(2) });
        var connection = await broker.ConnectAsync();
        var session = new Session(connection);
        await new SenderLink(session, "lease-sender", $"/queues/{queue}").SendAsync(Text("held", "held-1"));

        var first = new ReceiverLink(session, "lease-first", $"/queues/{queue}");
        first.SetCredit(1);
        var held = await first.NextAsync();
        first.Release(held);
        var released = await first.NextAsync();
        Assert.Equal("held-1", released.Properties.MessageId);
        Assert.Equal(1u, released.Header.DeliveryCount);

        // Not settled: once its lease ends the queue gives it to the other receiver.
        var second = new ReceiverLink(session, "lease-second", $"/queues/{queue}");
        second.SetCredit(1);
        var taken = await second.NextAsync();
        Assert.Equal("held-1", taken.Properties.MessageId);
        Assert.Equal(2u, taken.Header.DeliveryCount);
        second.Accept(taken);
        first.Accept(released); // Too late: the broker logs it and the message stays settled once.
        await Eventually.HoldsAsync(async () => (await broker.Dotnet.Admin.GetQueueInfoAsync(queue)) is { Ready: 0, InFlight: 0, Counters.Acked: 1 }, "acked once");
        await connection.CloseAsync();
    }

    [Fact]
    public async Task A_receiver_that_lowers_its_credit_gets_exactly_what_it_still_grants()
    {
        // Qpid Proton's receivers grant their prefetch twice and then trim it: the broker must keep serving what is left.
        var queue = await broker.CreateQueueAsync();
        var connection = await broker.ConnectAsync();
        var session = new Session(connection);
        var receiver = new ReceiverLink(session, "trimming-receiver", $"/queues/{queue}");
        receiver.SetCredit(10, CreditMode.Manual);
        receiver.SetCredit(-6, CreditMode.Manual);
        receiver.SetCredit(0, CreditMode.Manual); // The same limit again; it also keeps AMQP.Net Lite from granting its default.
        await broker.Dotnet.Broker.PublishBatchAsync(queue, [.. Enumerable.Range(0, 6).Select(i => new BrokerMessage($"trim-{i}", "x"u8.ToArray()))]);

        for (var i = 0; i < 4; i++)
        {
            var message = await receiver.NextAsync();
            Assert.Equal($"trim-{i}", message.Properties.MessageId);
            receiver.Accept(message);
        }

        Assert.Null(await receiver.ReceiveAsync(TimeSpan.FromMilliseconds(500)));
        receiver.SetCredit(2, CreditMode.Manual);
        for (var i = 4; i < 6; i++)
        {
            var message = await receiver.NextAsync();
            Assert.Equal($"trim-{i}", message.Properties.MessageId);
            receiver.Accept(message);
        }

        await Eventually.HoldsAsync(async () => (await broker.Dotnet.Admin.GetQueueInfoAsync(queue)) is { Ready: 0, InFlight: 0, Counters.Acked: 6 }, "all six acked");
        await connection.CloseAsync();
    }

    [Fact]
    public async Task Bad_addresses_missing_permissions_and_oversize_messages_are_refused_with_their_condition_and_nothing_else_is_affected()
    {
        var queue = await broker.CreateQueueAsync();
        await broker.Dotnet.Admin.CreateQueueAsync("secret-amqp");
        var connection = await broker.ConnectAsync("clerk", AmqpSilo.ClerkPassword);
        var session = new Session(connection);
        Assert.Equal("amqp:unauthorized-access", await RefusedAsync(() => new SenderLink(session, "s1", "/queues/secret-amqp").SendAsync(Text("x"))));
        Assert.Equal("amqp:unauthorized-access", await RefusedAsync(() => new ReceiverLink(session, "r1", "/queues/secret-amqp").ReceiveAsync(TimeSpan.FromSeconds(30))));
        Assert.Equal("amqp:not-found", await RefusedAsync(() => new SenderLink(session, "s2", "/queues/orders-missing").SendAsync(Text("x"))));
        Assert.Equal("amqp:invalid-field", await RefusedAsync(() => new SenderLink(session, "s3", "/exchanges/amq.topic").SendAsync(Text("x"))));
        Assert.Equal("amqp:not-allowed", await RefusedAsync(() => new SenderLink(session, "s4", "/topics/orders-t/subscriptions/eu").SendAsync(Text("x"))));

        var sender = new SenderLink(session, "good-sender", $"/queues/{queue}");
        var oversize = new Message { BodySection = new Data { Binary = new byte[AmqpSilo.MaxMessageBytes + 1] } };
        Assert.Equal("amqp:link:message-size-exceeded", await RefusedAsync(() => sender.SendAsync(oversize)));
        var badDelay = Text("late");
        badDelay.MessageAnnotations = new MessageAnnotations { [new Symbol("x-opt-delivery-delay")] = "soon" };
        Assert.Equal("amqp:decode-error", await RefusedAsync(() => sender.SendAsync(badDelay)));
        await sender.SendAsync(Text("fine", "fine-1"));

        var receiver = new ReceiverLink(session, "good-receiver", $"/queues/{queue}");
        var fine = await receiver.NextAsync();
        Assert.Equal("fine-1", fine.Properties.MessageId);
        receiver.Accept(fine);
        Assert.Null(await receiver.ReceiveAsync(TimeSpan.FromMilliseconds(500)));
        Assert.Equal(1, (await broker.Dotnet.Admin.GetQueueInfoAsync(queue)).Counters.Published);
        await connection.CloseAsync();
    }

    [Fact]
    public async Task A_presettled_receiver_gets_each_message_at_most_once_and_a_scheduled_send_waits_for_its_time()
    {
        var queue = await broker.CreateQueueAsync();
        var connection = await broker.ConnectAsync();
        var session = new Session(connection);
        var sender = new SenderLink(session, "presettled-sender", $"/queues/{queue}");
        await sender.SendAsync(Text("now", "now-1"));
        var later = Text("later", "later-1");
        later.MessageAnnotations = new MessageAnnotations { [new Symbol("x-opt-delivery-time")] = DateTime.UtcNow.AddHours(1) };
        await sender.SendAsync(later);

        var receiver = new ReceiverLink(session, "presettled-receiver",
            new Attach { Source = new Source { Address = $"/queues/{queue}" }, Target = new Target(), SndSettleMode = SenderSettleMode.Settled }, null);
        var now = await receiver.NextAsync();
        Assert.Equal("now-1", now.Properties.MessageId);
        QueueInfo? info = null;
        await Eventually.HoldsAsync(async () => (info = await broker.Dotnet.Admin.GetQueueInfoAsync(queue)).Counters.Acked == 1, "the pre-settled delivery is done");
        Assert.Equal((1L, 0L, 1L), (info!.Ready, info.InFlight, info.Delayed)); // Ready counts the scheduled one, waiting for its time.
        Assert.Null(await receiver.ReceiveAsync(TimeSpan.FromMilliseconds(500)));
        await connection.CloseAsync();
    }

    [Fact]
    public async Task Obroker_bench_amqp_measures_a_run_and_deletes_its_queue()
    {
        var run = await RealProcess.RunAsync(RealProcess.CliDll, Path.GetTempPath(), TimeSpan.FromMinutes(3),
            "--gateway", $"localhost:{broker.GatewayPort}", "bench", "amqp", "--port", $"{broker.Port}", "--password", AmqpSilo.AdminPassword,
            "--messages", "2000", "--size", "256", "--warmup", "200");
        Assert.True(run.ExitCode == 0, run.Err + run.Out);
        using var result = System.Text.Json.JsonDocument.Parse(run.Out.Trim().Split('\n')[^1]);
        Assert.Equal("amqp", result.RootElement.GetProperty("scenario").GetString());
        Assert.Equal(2000, result.RootElement.GetProperty("messages").GetInt64());
        Assert.Equal(0, result.RootElement.GetProperty("lost").GetInt64());
        Assert.Equal(0, result.RootElement.GetProperty("publish_retries").GetInt64());
        Assert.True(result.RootElement.GetProperty("throughput_msgs_per_s").GetDouble() > 0);
        Assert.DoesNotContain(await broker.Dotnet.Admin.ListQueuesAsync(), q => q.StartsWith("bench-amqp-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_metrics_endpoint_counts_connections_messages_outcomes_and_refusals()
    {
        using var http = new HttpClient { BaseAddress = broker.Silo.HttpAddress };
        async Task<string> ScrapeAsync() => await http.GetStringAsync("/metrics");
        static double Value(string scrape, string name, string label = "") => Mqtt.MqttListenerTests.Value(scrape, name, label);
        var before = await ScrapeAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => broker.ConnectAsync("admin", "wrong password"));

        var queue = await broker.CreateQueueAsync();
        var connection = await broker.ConnectAsync();
        var session = new Session(connection);
        var sender = new SenderLink(session, "metered-sender", $"/queues/{queue}");
        for (var i = 0; i < 4; i++)
        {
            await sender.SendAsync(Text($"metered {i}"));
        }

        Assert.Equal("amqp:not-found", await RefusedAsync(() => new SenderLink(session, "metered-missing", "/queues/orders-metered-missing").SendAsync(Text("x"))));
        var receiver = new ReceiverLink(session, "metered-receiver", $"/queues/{queue}");
        receiver.Accept(await receiver.NextAsync());
        receiver.Accept(await receiver.NextAsync());
        receiver.Reject(await receiver.NextAsync());
        receiver.Release(await receiver.NextAsync());
        await Eventually.HoldsAsync(async () => Value(await ScrapeAsync(), "obroker_amqp_messages_settled_total") - Value(before, "obroker_amqp_messages_settled_total") == 4,
            "four outcomes counted");
        var during = await ScrapeAsync();
        Assert.Equal(1, Value(during, "obroker_amqp_connections"));
        Assert.Equal(4, Value(during, "obroker_amqp_messages_received_total") - Value(before, "obroker_amqp_messages_received_total"));
        Assert.InRange(Value(during, "obroker_amqp_messages_sent_total") - Value(before, "obroker_amqp_messages_sent_total"), 4, 5);
        Assert.Equal(2, Value(during, "obroker_amqp_messages_settled_total", "outcome=\"accepted\"") - Value(before, "obroker_amqp_messages_settled_total", "outcome=\"accepted\""));
        Assert.Equal(1, Value(during, "obroker_amqp_messages_settled_total", "outcome=\"rejected\"") - Value(before, "obroker_amqp_messages_settled_total", "outcome=\"rejected\""));
        Assert.Equal(1, Value(during, "obroker_amqp_refused_total", "reason=\"sasl\"") - Value(before, "obroker_amqp_refused_total", "reason=\"sasl\""));
        Assert.Equal(1, Value(during, "obroker_amqp_refused_total", "reason=\"amqp:not-found\"") - Value(before, "obroker_amqp_refused_total", "reason=\"amqp:not-found\""));
        await connection.CloseAsync();
        await Eventually.HoldsAsync(async () => Value(await ScrapeAsync(), "obroker_amqp_connections") == 0, "no connection open");
    }
}
