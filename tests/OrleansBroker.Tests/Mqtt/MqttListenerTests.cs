using System.Net.Sockets;
using System.Text;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Packets;
using MQTTnet.Protocol;
using OrleansBroker.Messages;
using OrleansBroker.Queues;
using OrleansBroker.Tests.Infrastructure;
using OrleansBroker.Topics;
using Xunit;

namespace OrleansBroker.Tests.Mqtt;

/// <summary>The MQTT listener of a silo-host process, with MQTTnet's client and Debian's mosquitto clients over real sockets.</summary>
public sealed class MqttListenerTests(MqttSilo broker) : IClassFixture<MqttSilo>
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(60);

    [Theory]
    [InlineData(MqttProtocolVersion.V500)]
    [InlineData(MqttProtocolVersion.V311)]
    public async Task Connects_without_credentials_with_a_wrong_password_or_without_permission_in_the_tenant_are_refused(MqttProtocolVersion version)
    {
        await using var anonymous = await broker.TryConnectAsync(user: null, password: null, version: version);
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, anonymous.Connected!.ResultCode);

        await using var wrong = await broker.TryConnectAsync(user: "admin", password: "not the password", version: version);
        Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, wrong.Connected!.ResultCode);

        await using var stranger = await broker.TryConnectAsync(user: "stranger", password: MqttSilo.SensorPassword, version: version);
        Assert.Equal(MqttClientConnectResultCode.NotAuthorized, stranger.Connected!.ResultCode);

        await using var admin = await broker.ConnectAsync(version: version);
        Assert.True(admin.Client.IsConnected);
    }

    [Fact]
    public async Task Mosquitto_clients_are_refused_without_a_password_and_served_with_one()
    {
        var pub = await Mosquitto.PubAsync();
        var refused = await RealProcess.RunProgramAsync(pub, Path.GetTempPath(), CommandTimeout, "-p", $"{broker.Port}", "-t", "sensors/x", "-m", "hello", "-q", "1");
        Assert.NotEqual(0, refused.ExitCode);
        Assert.Contains("not authorised", refused.Err + refused.Out, StringComparison.OrdinalIgnoreCase);

        var served = await RealProcess.RunProgramAsync(pub, Path.GetTempPath(), CommandTimeout,
            "-p", $"{broker.Port}", "-u", "sensor", "-P", MqttSilo.SensorPassword, "-t", "sensors/x", "-m", "hello", "-q", "1");
        Assert.True(served.ExitCode == 0, served.Err + served.Out);
    }

    [Fact]
    public async Task A_principal_publishes_and_subscribes_only_where_its_permissions_reach()
    {
        await using var sensor = await broker.ConnectAsync(user: "sensor", password: MqttSilo.SensorPassword);
        var refused = await sensor.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("secret/x").WithPayload("no").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, refused.ReasonCode);

        var subscribed = await sensor.Client.SubscribeAsync(new MqttClientSubscribeOptionsBuilder().WithTopicFilter("secret/#").WithTopicFilter("sensors/#").Build());
        Assert.Equal([MqttClientSubscribeResultCode.NotAuthorized, MqttClientSubscribeResultCode.GrantedQoS0], subscribed.Items.Select(i => i.ResultCode));

        var allowed = await sensor.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("sensors/allowed").WithPayload("yes").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientPublishReasonCode.Success, allowed.ReasonCode);
        await Eventually.HoldsAsync(() => sensor.Payloads.Contains("yes"), "the sensor received its own publish");
        Assert.DoesNotContain("no", sensor.Payloads);

        // MQTT 3.1.1 has no negative PUBACK: an unauthorized publish ends the connection.
        await using var old = await broker.ConnectAsync(user: "sensor", password: MqttSilo.SensorPassword, version: MqttProtocolVersion.V311);
        await Assert.ThrowsAnyAsync<Exception>(() => old.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("secret/x").WithPayload("no").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()));
        await Eventually.HoldsAsync(() => !old.Client.IsConnected, "the 3.1.1 client was disconnected");
    }

    [Fact]
    public async Task An_mqtt_publish_reaches_a_dotnet_consumer_of_a_queue_bound_by_pattern()
    {
        await using var publisher = await broker.ConnectAsync();
        await broker.Dotnet.Admin.CreateTopicAsync("mqtt");
        await broker.Dotnet.Admin.CreateSubscriptionAsync("mqtt", new Subscription("ingest", new SubscriptionFilter(["plant.*.temperature"]), new QueueOptions()));
        for (var i = 0; i < 50; i++)
        {
            var result = await publisher.Client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic($"plant/line.{i % 5}/temperature").WithPayload($"{20 + i}").WithContentType("text/plain")
                .WithUserProperty("unit", Encoding.UTF8.GetBytes("celsius").AsMemory()).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            Assert.Equal(MqttClientPublishReasonCode.Success, result.ReasonCode);
        }

        await publisher.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("plant/line.1/pressure").WithPayload("1013").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        var deliveries = await broker.Dotnet.Broker.ReceiveAsync("mqtt/ingest", 100, TimeSpan.FromSeconds(5));
        Assert.Equal(50, deliveries.Count);
        Assert.Equal(Enumerable.Range(0, 50).Select(i => $"{20 + i}"), deliveries.Select(d => Encoding.UTF8.GetString(d.Body)));
        Assert.Equal("plant.line/0.temperature", deliveries[0].RoutingKey);
        Assert.Equal("text/plain", deliveries[0].ContentType);
        Assert.Equal("celsius", deliveries[0].Headers!["unit"]);
        foreach (var delivery in deliveries)
        {
            await broker.Dotnet.Broker.CompleteAsync(delivery);
        }
    }

    [Fact]
    public async Task A_dotnet_topic_publish_reaches_mqtt_subscribers_of_both_protocol_versions()
    {
        await using var v5 = await broker.ConnectAsync();
        await v5.SubscribeAsync("factory/+/alarm");
        await using var v3 = await broker.ConnectAsync(version: MqttProtocolVersion.V311);
        await v3.SubscribeAsync("factory/#");
        await broker.Dotnet.Admin.CreateTopicAsync("mqtt");
        await broker.Dotnet.Broker.PublishToTopicAsync("mqtt", new BrokerMessage(null, Encoding.UTF8.GetBytes("overheat"), "text/plain",
            new Dictionary<string, string> { ["severity"] = "high" }, RoutingKey: "factory.press/2.alarm"));

        await Eventually.HoldsAsync(() => !v5.Received.IsEmpty && !v3.Received.IsEmpty, "both subscribers received the message");
        var message = Assert.Single(v5.Received);
        Assert.Equal("factory/press.2/alarm", message.Topic);
        Assert.Equal("overheat", message.ConvertPayloadToString());
        Assert.Equal("text/plain", message.ContentType);
        Assert.Equal("high", Assert.Single(message.UserProperties, p => p.Name == "severity").ReadValueAsString());
        Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, message.QualityOfServiceLevel);
        Assert.Equal("factory/press.2/alarm", Assert.Single(v3.Received).Topic);
    }

    [Fact]
    public async Task A_retained_message_reaches_a_late_subscriber_until_an_empty_one_clears_it()
    {
        var pub = await Mosquitto.PubAsync();
        var retained = await RealProcess.RunProgramAsync(pub, Path.GetTempPath(), CommandTimeout,
            "-p", $"{broker.Port}", "-u", "admin", "-P", MqttSilo.AdminPassword, "-t", "status/boiler", "-m", "running", "-q", "1", "-r");
        Assert.True(retained.ExitCode == 0, retained.Err);

        await using (var late = await broker.ConnectAsync())
        {
            await late.SubscribeAsync("status/#");
            await Eventually.HoldsAsync(() => !late.Received.IsEmpty, "the late subscriber got the retained message");
            var message = Assert.Single(late.Received);
            Assert.Equal(("status/boiler", "running", true), (message.Topic, message.ConvertPayloadToString(), message.Retain));
        }

        var cleared = await RealProcess.RunProgramAsync(pub, Path.GetTempPath(), CommandTimeout,
            "-p", $"{broker.Port}", "-u", "admin", "-P", MqttSilo.AdminPassword, "-t", "status/boiler", "-n", "-q", "1", "-r");
        Assert.True(cleared.ExitCode == 0, cleared.Err);
        await using var later = await broker.ConnectAsync();
        await later.SubscribeAsync("status/#");
        await later.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("status/marker").WithPayload("after").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await Eventually.HoldsAsync(() => !later.Received.IsEmpty, "the marker arrived");
        Assert.Equal(["after"], later.Payloads);
    }

    [Theory]
    [InlineData(MqttProtocolVersion.V311)]
    [InlineData(MqttProtocolVersion.V500)]
    public async Task A_persistent_session_gets_what_was_published_while_it_was_offline(MqttProtocolVersion version)
    {
        var clientId = $"persistent-{version}-{Guid.NewGuid():N}";
        await using (var first = await broker.ConnectAsync(clientId, version: version, clean: false, sessionExpiry: 3600))
        {
            Assert.False(first.Connected!.IsSessionPresent);
            await first.SubscribeAsync($"offline/{version}/#");
        }

        await using (var publisher = await broker.ConnectAsync())
        {
            for (var i = 0; i < 100; i++)
            {
                await publisher.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic($"offline/{version}/n").WithPayload($"m{i}").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            }
        }

        await using var back = await broker.ConnectAsync(clientId, version: version, clean: false, sessionExpiry: 3600);
        Assert.True(back.Connected!.IsSessionPresent);
        await Eventually.HoldsAsync(() => back.Received.Count >= 100, "the session's missed messages arrived");
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"m{i}"), back.Payloads);

        // A clean start ends the session: nothing is kept for it.
        await back.Client.DisconnectAsync();
        await using var clean = await broker.ConnectAsync(clientId, version: version, clean: true);
        Assert.False(clean.Connected!.IsSessionPresent);
        var topic = await broker.Dotnet.Admin.GetTopicInfoAsync("mqtt");
        Assert.DoesNotContain(topic.Subscriptions, s => s.Name == clientId);
    }

    [Fact]
    public async Task An_mqtt_5_session_ends_once_its_client_has_been_away_longer_than_its_expiry()
    {
        var clientId = $"expiring-{Guid.NewGuid():N}";
        await using (var client = await broker.ConnectAsync(clientId, clean: false, sessionExpiry: 2))
        {
            await client.SubscribeAsync("expiring/#");
            Assert.Contains((await broker.Dotnet.Admin.GetTopicInfoAsync("mqtt")).Subscriptions, s => s.Name == clientId);
        }

        // The session's reminder ends it, with its subscription queue, about two seconds after the disconnect.
        await Eventually.HoldsAsync(async () => (await broker.Dotnet.Admin.GetTopicInfoAsync("mqtt")).Subscriptions.All(s => s.Name != clientId),
            "the expired session's subscription was removed");
        await using var back = await broker.ConnectAsync(clientId, clean: false, sessionExpiry: 2);
        Assert.False(back.Connected!.IsSessionPresent);
    }

    [Fact]
    public async Task A_second_connection_with_the_same_client_id_takes_the_session_over()
    {
        var clientId = $"twin-{Guid.NewGuid():N}";
        await using var first = await broker.ConnectAsync(clientId, clean: false, sessionExpiry: 600);
        await first.SubscribeAsync("twin/#");
        await using var second = await broker.ConnectAsync(clientId, clean: false, sessionExpiry: 600);
        Assert.True(second.Connected!.IsSessionPresent);
        await Eventually.HoldsAsync(() => first.Disconnected is not null, "the first connection was closed");
        Assert.Equal(MqttClientDisconnectReason.SessionTakenOver, first.Disconnected!.Reason);

        await broker.Dotnet.Broker.PublishToTopicAsync("mqtt", new BrokerMessage(null, Encoding.UTF8.GetBytes("to the twin"), RoutingKey: "twin.a"));
        await Eventually.HoldsAsync(() => second.Payloads.Contains("to the twin"), "the second connection receives the session's messages");
    }

    [Fact]
    public async Task An_oversize_publish_or_a_malformed_packet_ends_only_that_connection()
    {
        await using var bystander = await broker.ConnectAsync();
        await bystander.SubscribeAsync("size/#");

        await using var big = await broker.ConnectAsync();
        await Assert.ThrowsAnyAsync<Exception>(() => big.Client.PublishAsync(new MqttApplicationMessageBuilder()
            .WithTopic("size/big").WithPayload(new byte[MqttSilo.MaxMessageBytes + 1]).WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build()));
        await Eventually.HoldsAsync(() => big.Disconnected is not null, "the oversize publisher was disconnected");
        Assert.Equal(MqttClientDisconnectReason.PacketTooLarge, big.Disconnected!.Reason);

        // Not MQTT at all: a CONNECT packet whose protocol name is wrong, then garbage.
        using (var socket = new TcpClient())
        {
            await socket.ConnectAsync("127.0.0.1", broker.Port);
            var stream = socket.GetStream();
            await stream.WriteAsync(new byte[] { 0x10, 0x0C, 0x00, 0x04, (byte)'H', (byte)'T', (byte)'T', (byte)'P', 0x04, 0x02, 0x00, 0x3C, 0x00, 0x00 });
            var buffer = new byte[64];
            using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
            Assert.Equal(0, await stream.ReadAsync(buffer, timeout.Token));
        }

        await bystander.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("size/small").WithPayload("fine").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await Eventually.HoldsAsync(() => bystander.Payloads.Contains("fine"), "the other client is unaffected");
        Assert.True(bystander.Client.IsConnected);
    }

    [Fact]
    public async Task A_client_that_drops_without_disconnecting_has_its_last_will_published()
    {
        await using var watcher = await broker.ConnectAsync();
        await watcher.SubscribeAsync("wills/#");
        var sub = await Mosquitto.SubAsync();
        var dyingId = $"dying-{Guid.NewGuid():N}";
        using var dying = RealProcess.StartProgram(sub, Path.GetTempPath(),
            ["-p", $"{broker.Port}", "-u", "admin", "-P", MqttSilo.AdminPassword, "-t", "nothing/here", "-i", dyingId,
             "--will-topic", "wills/dying", "--will-payload", "gone", "--will-qos", "1"]);
        var output = new CapturedOutput(dying);
        await Eventually.HoldsAsync(async () => await MqttKillTests.SubscribedAsync(broker.Dotnet, dyingId), "mosquitto_sub subscribed");
        Assert.Empty(watcher.Received);
        dying.Kill();
        await dying.WaitForExitAsync();
        await Eventually.HoldsAsync(() => watcher.Payloads.Contains("gone"), $"the will was published; mosquitto_sub said: {output.Text}");
    }

    [Fact]
    public async Task A_qos_2_publish_is_stored_once_and_delivered_at_the_granted_qos()
    {
        await using var subscriber = await broker.ConnectAsync();
        await subscriber.SubscribeAsync("exactly/#", MqttQualityOfServiceLevel.ExactlyOnce);
        await using var publisher = await broker.ConnectAsync(version: MqttProtocolVersion.V311);
        var result = await publisher.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("exactly/once").WithPayload("two")
            .WithQualityOfServiceLevel(MqttQualityOfServiceLevel.ExactlyOnce).Build());
        Assert.True(result.IsSuccess, $"{result.ReasonCode}");
        await publisher.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("exactly/marker").WithPayload("after").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        await Eventually.HoldsAsync(() => subscriber.Payloads.Contains("after"), "the marker arrived");
        Assert.Equal(["two", "after"], subscriber.Payloads);

        // Subscriptions are granted QoS 1 at most: the message comes at QoS 1.
        Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, subscriber.Received.First().QualityOfServiceLevel);
    }

    [Fact]
    public async Task Filters_past_the_session_limit_or_that_patterns_cannot_say_are_refused_per_filter()
    {
        await using var client = await broker.ConnectAsync();
        var subscribe = new MqttClientSubscribeOptionsBuilder();
        for (var i = 0; i < 101; i++)
        {
            subscribe.WithTopicFilter($"many/{i}");
        }

        subscribe.WithTopicFilter("many//empty").WithTopicFilter("$share/group/many").WithTopicFilter("many/*/star");
        var codes = (await client.Client.SubscribeAsync(subscribe.Build())).Items.Select(i => i.ResultCode).ToList();
        Assert.All(codes.Take(100), code => Assert.Equal(MqttClientSubscribeResultCode.GrantedQoS0, code));
        Assert.Equal(
            [MqttClientSubscribeResultCode.QuotaExceeded, MqttClientSubscribeResultCode.TopicFilterInvalid, MqttClientSubscribeResultCode.SharedSubscriptionsNotSupported, MqttClientSubscribeResultCode.TopicFilterInvalid],
            codes.Skip(100));
        Assert.True(client.Client.IsConnected);
    }

    [Fact]
    public async Task A_client_silent_past_its_keep_alive_is_disconnected_and_its_will_published()
    {
        await using var watcher = await broker.ConnectAsync();
        await watcher.SubscribeAsync("silent/#");

        // A raw MQTT 3.1.1 CONNECT asking for a 1 s keep-alive, with a will, then nothing at all: no PINGREQ.
        using var socket = new TcpClient();
        await socket.ConnectAsync("127.0.0.1", broker.Port);
        var stream = socket.GetStream();
        await stream.WriteAsync(RawConnect($"silent-{Guid.NewGuid():N}", "admin", MqttSilo.AdminPassword, keepAliveSeconds: 1, willTopic: "silent/will", willPayload: "went quiet"));
        var connAck = new byte[4];
        using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
        await stream.ReadExactlyAsync(connAck, timeout.Token);
        Assert.Equal(new byte[] { 0x20, 0x02, 0x00, 0x00 }, connAck);

        // The broker closes the socket (1.5 keep-alive periods) and publishes the will.
        Assert.Equal(0, await stream.ReadAsync(new byte[16], timeout.Token));
        await Eventually.HoldsAsync(() => watcher.Payloads.Contains("went quiet"), "the will was published");
    }

    /// <summary>An MQTT 3.1.1 CONNECT packet with a clean session, user name, password and a QoS 1 will.</summary>
    private static byte[] RawConnect(string clientId, string user, string password, ushort keepAliveSeconds, string willTopic, string willPayload)
    {
        var body = new List<byte>();
        void Text(string value)
        {
            var bytes = Encoding.UTF8.GetBytes(value);
            body.Add((byte)(bytes.Length >> 8));
            body.Add((byte)bytes.Length);
            body.AddRange(bytes);
        }

        Text("MQTT");
        body.Add(0x04);

        // user name, password, will QoS 1, will, clean session
        body.Add(0x80 | 0x40 | 0x08 | 0x04 | 0x02);
        body.Add((byte)(keepAliveSeconds >> 8));
        body.Add((byte)keepAliveSeconds);
        Text(clientId);
        Text(willTopic);
        Text(willPayload);
        Text(user);
        Text(password);
        var packet = new List<byte> { 0x10 };
        var length = body.Count;
        do
        {
            var digit = (byte)(length % 128);
            length /= 128;
            packet.Add(length > 0 ? (byte)(digit | 0x80) : digit);
        }
        while (length > 0);

        packet.AddRange(body);
        return [.. packet];
    }

    [Fact]
    public async Task Obroker_bench_mqtt_measures_a_run_and_leaves_no_session_behind()
    {
        var run = await RealProcess.RunAsync(RealProcess.CliDll, Path.GetTempPath(), TimeSpan.FromMinutes(3),
            "bench", "mqtt", "--port", $"{broker.Port}", "--password", MqttSilo.AdminPassword, "--messages", "2000", "--size", "256", "--warmup", "200");
        Assert.True(run.ExitCode == 0, run.Err + run.Out);
        using var result = System.Text.Json.JsonDocument.Parse(run.Out.Trim().Split('\n')[^1]);
        Assert.Equal("mqtt", result.RootElement.GetProperty("scenario").GetString());
        Assert.Equal(2000, result.RootElement.GetProperty("messages").GetInt64());
        Assert.Equal(0, result.RootElement.GetProperty("lost").GetInt64());
        Assert.True(result.RootElement.GetProperty("throughput_msgs_per_s").GetDouble() > 0);
        Assert.DoesNotContain((await broker.Dotnet.Admin.GetTopicInfoAsync("mqtt")).Subscriptions, s => s.Name.StartsWith("bench-", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_metrics_endpoint_counts_connections_messages_by_qos_and_refused_connects()
    {
        using var http = new HttpClient { BaseAddress = broker.Silo.HttpAddress };
        async Task<string> ScrapeAsync() => await http.GetStringAsync("/metrics");
        var before = await ScrapeAsync();

        await using (var refused = await broker.TryConnectAsync(user: "admin", password: "wrong password"))
        {
            Assert.Equal(MqttClientConnectResultCode.BadUserNameOrPassword, refused.Connected!.ResultCode);
        }

        await using (var subscriber = await broker.ConnectAsync())
        await using (var publisher = await broker.ConnectAsync())
        {
            await subscriber.SubscribeAsync("metered/#");
            for (var i = 0; i < 5; i++)
            {
                await publisher.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("metered/one").WithPayload($"q1-{i}").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            }

            for (var i = 0; i < 3; i++)
            {
                await publisher.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("metered/zero").WithPayload($"q0-{i}").Build());
            }

            await Eventually.HoldsAsync(() => subscriber.Received.Count == 8, "the subscriber received all eight");
            await Eventually.HoldsAsync(async () => Value(await ScrapeAsync(), "obroker_mqtt_connections") == 2, "two connections open");
            var during = await ScrapeAsync();
            Assert.Equal(5, Value(during, "obroker_mqtt_messages_received_total", "qos=\"1\"") - Value(before, "obroker_mqtt_messages_received_total", "qos=\"1\""));
            Assert.Equal(3, Value(during, "obroker_mqtt_messages_received_total", "qos=\"0\"") - Value(before, "obroker_mqtt_messages_received_total", "qos=\"0\""));
            Assert.Equal(5, Value(during, "obroker_mqtt_messages_sent_total", "qos=\"1\"") - Value(before, "obroker_mqtt_messages_sent_total", "qos=\"1\""));
            Assert.Equal(3, Value(during, "obroker_mqtt_messages_sent_total", "qos=\"0\"") - Value(before, "obroker_mqtt_messages_sent_total", "qos=\"0\""));
            Assert.Equal(1, Value(during, "obroker_mqtt_connects_refused_total", "reason=\"BadUserNameOrPassword\"") - Value(before, "obroker_mqtt_connects_refused_total", "reason=\"BadUserNameOrPassword\""));
        }

        await Eventually.HoldsAsync(async () => Value(await ScrapeAsync(), "obroker_mqtt_connections") == 0, "no connection open");
    }

    /// <summary>The sum of a metric's series in a Prometheus scrape whose labels contain <paramref name="label"/> (0 when there is none).</summary>
    internal static double Value(string scrape, string name, string label = "")
    {
        var total = 0.0;
        foreach (var line in scrape.Split('\n'))
        {
            var match = System.Text.RegularExpressions.Regex.Match(line, $@"^{name}(\{{(?<labels>[^}}]*)\}})? (?<value>\S+)");
            if (match.Success && match.Groups["labels"].Value.Contains(label, StringComparison.Ordinal))
            {
                total += double.Parse(match.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return total;
    }
}
