using MQTTnet;
using MQTTnet.Protocol;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Mqtt;

/// <summary>
/// MQTT (and AMQP 1.0) on a cluster as a user runs it: three silo-host processes on one Azurite (storage, reminders, membership), each with
/// its MQTT listener. Sessions live in grains, so a client may publish on one silo, subscribe on another, and come back to a
/// third after its silo was killed.
/// </summary>
public sealed class MqttClusterTests : IAsyncLifetime
{
    private const string Password = "mqtt-cluster-password";
    private const int Count = 100;
    private readonly Azurite _azurite = new();

    public Task InitializeAsync() => _azurite.InitializeAsync();

    public Task DisposeAsync() => _azurite.DisposeAsync();

    [Fact]
    public async Task A_subscriber_on_one_silo_receives_what_another_publishes_and_keeps_its_session_when_its_silo_is_killed()
    {
        using var data = new TestData();
        string[] shared =
        [
            .. _azurite.SiloArgs(Azurite.UniqueName("cluster"), Azurite.UniqueName("m")),
            "--Broker:Membership:ProbeTimeout", "00:00:01", "--Broker:Membership:NumMissedProbesLimit", "2",
            "--Broker:Http:AdminPassword", Password,
        ];
        var silos = new List<SiloProcess>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var folder = Directory.CreateDirectory(Path.Combine(data.Directory, $"silo{i}")).FullName;
                silos.Add(new SiloProcess(folder, RealProcess.FreePort(), RealProcess.FreePort(), shared));
            }

            foreach (var silo in silos)
            {
                await silo.WaitUntilReadyAsync();
            }

            var (a, b, c) = (silos[0], silos[1], silos[2]);
            var clientId = $"roamer-{Guid.NewGuid():N}";

            // Subscribed on A, published on B.
            var subscriber = await ConnectAsync(a.MqttPort, clientId, persistent: true);
            await subscriber.SubscribeAsync("cluster/#");
            await using (var publisher = await ConnectAsync(b.MqttPort, $"pub-{Guid.NewGuid():N}", persistent: false))
            {
                await PublishAsync(publisher, 0, Count);
            }

            await Eventually.HoldsAsync(() => Enumerable.Range(0, Count).All(i => subscriber.Payloads.Contains($"m{i}")), "the subscriber on A received what B published");
            await AmqpAcrossSilosAsync(a, b, c);
            await Eventually.HoldsAsync(() => subscriber.Received.Any(m => m.Topic == "cluster/amqp" && m.ConvertPayloadToString() == "from-amqp"),
                "the subscriber on A received what an AMQP client sent on B");

            // A dies with the subscriber's connection; what is published meanwhile waits in the session.
            a.KillHard();
            await subscriber.DisposeAsync();
            await using (var publisher = await ConnectAsync(b.MqttPort, $"pub-{Guid.NewGuid():N}", persistent: false))
            {
                await PublishAsync(publisher, Count, Count);
            }

            // The client comes back to C and finds its session there.
            await using var back = await ConnectAsync(c.MqttPort, clientId, persistent: true);
            Assert.True(back.Connected!.IsSessionPresent);
            await Eventually.HoldsAsync(() => Enumerable.Range(Count, Count).All(i => back.Payloads.Contains($"m{i}")),
                "the session's messages published while it was away arrived on C", TimeSpan.FromMinutes(3));
        }
        finally
        {
            foreach (var silo in silos)
            {
                silo.Dispose();
            }
        }
    }

    /// <summary>
    /// AMQP 1.0 on the same cluster: a send to the MQTT topic on B reaches the MQTT subscriber on A (the subject is the
    /// routing key), and a queue made over HTTP on C is sent to on A and received from on C.
    /// </summary>
    private static async Task AmqpAcrossSilosAsync(SiloProcess a, SiloProcess b, SiloProcess c)
    {
        var onB = await new global::Amqp.ConnectionFactory().CreateAsync(new global::Amqp.Address("127.0.0.1", b.AmqpPort, "admin", Password, scheme: "amqp"));
        var toMqtt = Amqp.AmqpTestExtensions.Text("from-amqp");
        toMqtt.Properties.Subject = "cluster.amqp";
        await new global::Amqp.SenderLink(new global::Amqp.Session(onB), "to-mqtt", "/topics/mqtt").SendAsync(toMqtt);
        await onB.CloseAsync();

        using (var http = new HttpClient { BaseAddress = c.HttpAddress })
        {
            http.DefaultRequestHeaders.Authorization = Http.HttpBroker.Basic("admin", Password);
            await Http.HttpBroker.CreateQueueAsync(http, "amqp-cluster");
        }

        var onA = await new global::Amqp.ConnectionFactory().CreateAsync(new global::Amqp.Address("127.0.0.1", a.AmqpPort, "admin", Password, scheme: "amqp"));
        var sender = new global::Amqp.SenderLink(new global::Amqp.Session(onA), "cluster-sender", "/queues/amqp-cluster");
        for (var i = 0; i < 20; i++)
        {
            await sender.SendAsync(Amqp.AmqpTestExtensions.Text($"q{i}", $"q{i}"));
        }

        await onA.CloseAsync();
        var onC = await new global::Amqp.ConnectionFactory().CreateAsync(new global::Amqp.Address("127.0.0.1", c.AmqpPort, "admin", Password, scheme: "amqp"));
        var receiver = new global::Amqp.ReceiverLink(new global::Amqp.Session(onC), "cluster-receiver", "/queues/amqp-cluster");
        for (var i = 0; i < 20; i++)
        {
            var message = await Amqp.AmqpTestExtensions.NextAsync(receiver);
            Assert.Equal($"q{i}", message.Properties.MessageId);
            receiver.Accept(message);
        }

        await onC.CloseAsync();
    }

    /// <summary>
    /// Connects as an MQTT client does after a failure: again until the cluster serves it (right after a kill the silos are
    /// still finding out; meanwhile a connect is refused with "server unavailable" or the socket is refused).
    /// </summary>
    private static async Task<MqttTestClient> ConnectAsync(int port, string clientId, bool persistent)
    {
        MqttTestClient? connected = null;
        await Eventually.HoldsAsync(async () =>
        {
            var client = new MqttTestClient();
            try
            {
                // A publish may wait out the cluster's failure detection after the kill: a generous timeout.
                await client.ConnectAsync(port, clientId, "admin", Password, MQTTnet.Formatter.MqttProtocolVersion.V500, clean: !persistent,
                    sessionExpiry: persistent ? 3600u : 0u, options => options.WithTimeout(TimeSpan.FromMinutes(2)));
            }
            catch (MQTTnet.Exceptions.MqttCommunicationException)
            {
                await client.DisposeAsync();
                return false;
            }

            if (client.Connected!.ResultCode == MqttClientConnectResultCode.Success)
            {
                connected = client;
                return true;
            }

            Assert.Equal(MqttClientConnectResultCode.ServerUnavailable, client.Connected.ResultCode);
            await client.DisposeAsync();
            return false;
        }, $"{clientId} connected on port {port}", TimeSpan.FromMinutes(2));
        return connected!;
    }

    /// <summary>Publishes m{first}.. at QoS 1, each again while the broker answers that it could not store it (as a client does).</summary>
    private static async Task PublishAsync(MqttTestClient publisher, int first, int count)
    {
        for (var i = first; i < first + count; i++)
        {
            var message = new MqttApplicationMessageBuilder().WithTopic($"cluster/{i % 4}").WithPayload($"m{i}").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build();
            await Eventually.HoldsAsync(async () =>
            {
                var result = await publisher.Client.PublishAsync(message);
                Assert.True(result.ReasonCode is MqttClientPublishReasonCode.Success or MqttClientPublishReasonCode.UnspecifiedError, $"publish m{i}: {result.ReasonCode}");
                return result.IsSuccess;
            }, $"m{i} was stored", TimeSpan.FromMinutes(2));
        }
    }
}
