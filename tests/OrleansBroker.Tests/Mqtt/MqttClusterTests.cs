using MQTTnet;
using MQTTnet.Protocol;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Mqtt;

/// <summary>
/// MQTT on a cluster as a user runs it: three silo-host processes on one Azurite (storage, reminders, membership), each with
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

    private static async Task<MqttTestClient> ConnectAsync(int port, string clientId, bool persistent)
    {
        var client = new MqttTestClient();

        // A publish may wait out the cluster's failure detection after the kill: a generous timeout.
        await client.ConnectAsync(port, clientId, "admin", Password, MQTTnet.Formatter.MqttProtocolVersion.V500, clean: !persistent,
            sessionExpiry: persistent ? 3600u : 0u, options => options.WithTimeout(TimeSpan.FromMinutes(2)));
        Assert.Equal(MqttClientConnectResultCode.Success, client.Connected!.ResultCode);
        return client;
    }

    private static async Task PublishAsync(MqttTestClient publisher, int first, int count)
    {
        for (var i = first; i < first + count; i++)
        {
            var result = await publisher.Client.PublishAsync(new MqttApplicationMessageBuilder()
                .WithTopic($"cluster/{i % 4}").WithPayload($"m{i}").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
            Assert.Equal(MqttClientPublishReasonCode.Success, result.ReasonCode);
        }
    }
}
