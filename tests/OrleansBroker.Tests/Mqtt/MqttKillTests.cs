using System.Collections.Concurrent;
using System.Diagnostics;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Mqtt;

/// <summary>MQTT durability as a user meets it: a silo-host process killed with kill -9 under QoS 1 load, then restarted.</summary>
public sealed class MqttKillTests
{
    private const int Count = 10_000;
    private const int InFlight = 100;
    private const string Password = "mqtt-kill-password";
    private const string SubscriberId = "durable-subscriber";

    [Fact]
    public async Task Every_pubacked_message_of_ten_thousand_reaches_a_persistent_mosquitto_subscriber_offline_across_a_kill_9()
    {
        using var data = new TestData();
        var (siloPort, gatewayPort, mqttPort) = (RealProcess.FreePort(), RealProcess.FreePort(), RealProcess.FreePort());
        string[] args = ["--mqtt-port", $"{mqttPort}", "--amqp-port", "0", "--Broker:Http:AdminPassword", Password];
        var received = new ConcurrentDictionary<string, int>(StringComparer.Ordinal);
        var acked = new ConcurrentDictionary<int, bool>();

        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort, args))
        {
            await silo.WaitUntilReadyAsync();
            await using var dotnet = await GatewayClient.ConnectAsync(gatewayPort);

            // The subscriber takes part of the run, then goes away (its session stays, persistent).
            using (var subscriber = await StartSubscriberAsync(mqttPort, received))
            {
                await Eventually.HoldsAsync(async () => await SubscribedAsync(dotnet, SubscriberId), "mosquitto_sub subscribed");
                await PublishAsync(mqttPort, Enumerable.Range(0, Count), acked, stopAfter: 2_000);
                subscriber.Kill();
                await subscriber.WaitForExitAsync();
            }

            // A retained status, stored before the kill.
            await using (var status = new MqttTestClient())
            {
                await status.ConnectAsync(mqttPort, $"status-{Guid.NewGuid():N}", "admin", Password, MqttProtocolVersion.V311, clean: true, sessionExpiry: 0);
                var retained = await status.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("status/loader").WithPayload("loading")
                    .WithRetainFlag().WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
                Assert.True(retained.IsSuccess);
            }

            // More while it is offline, then kill -9 with publishes in flight.
            await PublishAsync(mqttPort, Enumerable.Range(0, Count).Where(i => !acked.ContainsKey(i)), acked, stopAfter: 5_000 - acked.Count);
            var publishing = PublishAsync(mqttPort, Enumerable.Range(0, Count).Where(i => !acked.ContainsKey(i)), acked, stopAfter: int.MaxValue);
            await Eventually.HoldsAsync(() => acked.Count >= 6_000, "publishing went on");
            silo.KillHard();
            await Assert.ThrowsAnyAsync<Exception>(() => publishing);
        }

        Assert.InRange(acked.Count, 6_000, Count - 1);
        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort, args))
        {
            await silo.WaitUntilReadyAsync();

            // The publisher sends again what was not acknowledged; the subscriber comes back to its session.
            await PublishAsync(mqttPort, Enumerable.Range(0, Count).Where(i => !acked.ContainsKey(i)), acked, stopAfter: int.MaxValue);
            Assert.Equal(Count, acked.Count);
            using var subscriber = await StartSubscriberAsync(mqttPort, received);
            try
            {
                await Eventually.HoldsAsync(() => acked.Keys.All(i => received.ContainsKey($"m{i}")), "every acknowledged message arrived", TimeSpan.FromMinutes(3));
            }
            catch (TimeoutException)
            {
                Assert.Fail($"{acked.Keys.Count(i => !received.ContainsKey($"m{i}"))} of {Count} acknowledged messages never arrived, e.g. {string.Join(", ", acked.Keys.Where(i => !received.ContainsKey($"m{i}")).Order().Take(10))}");
            }

            subscriber.Kill();

            // The retained status outlived the kill.
            await using var late = new MqttTestClient();
            await late.ConnectAsync(mqttPort, $"late-{Guid.NewGuid():N}", "admin", Password, MqttProtocolVersion.V500, clean: true, sessionExpiry: 0);
            await late.SubscribeAsync("status/#");
            await Eventually.HoldsAsync(() => late.Payloads.Contains("loading"), "the retained message survived the kill");
            Assert.True(Assert.Single(late.Received).Retain);
        }
    }

    /// <summary>Whether the MQTT session <paramref name="clientId"/> has subscribed (the tenant's MQTT topic exists once a client connected).</summary>
    internal static async Task<bool> SubscribedAsync(GatewayClient dotnet, string clientId)
    {
        try
        {
            return (await dotnet.Admin.GetTopicInfoAsync("mqtt")).Subscriptions.Any(s => s.Name == clientId);
        }
        catch (Errors.BrokerException exception) when (exception.Code == Errors.BrokerErrorCode.TopicNotFound)
        {
            return false;
        }
    }

    /// <summary>mosquitto_sub with a persistent session (-c), QoS 1, printing each payload on a line.</summary>
    private static async Task<Process> StartSubscriberAsync(int port, ConcurrentDictionary<string, int> received)
    {
        var sub = await Mosquitto.SubAsync();
        var process = RealProcess.StartProgram(sub, Path.GetTempPath(),
            ["-p", $"{port}", "-u", "admin", "-P", Password, "-i", SubscriberId, "-c", "-q", "1", "-t", "load/#", "-V", "mqttv311"]);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data is { Length: > 0 } line)
            {
                received.AddOrUpdate(line, 1, (_, n) => n + 1);
            }
        };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>
    /// Publishes message i as "m{i}" to load/{i % 10} at QoS 1 from one MQTTnet client, <see cref="InFlight"/> at a time,
    /// recording each one the broker acknowledged; stops after <paramref name="stopAfter"/> acknowledgements. Throws when the
    /// connection fails.
    /// </summary>
    private static async Task PublishAsync(int port, IEnumerable<int> indexes, ConcurrentDictionary<int, bool> acked, int stopAfter)
    {
        using var client = new MqttClientFactory().CreateMqttClient();
        var options = new MqttClientOptionsBuilder()
            .WithTcpServer(tcp => tcp.BufferSize = 256 * 1024)
            .WithEndPoint(new System.Net.IPEndPoint(System.Net.IPAddress.Loopback, port))
            .WithProtocolVersion(MqttProtocolVersion.V311)
            .WithCredentials("admin", Password)
            .WithClientId($"publisher-{Guid.NewGuid():N}")
            .WithTimeout(TimeSpan.FromSeconds(30))
            .Build();
        using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
        var connected = await client.ConnectAsync(options, timeout.Token);
        Assert.Equal(MqttClientConnectResultCode.Success, connected.ResultCode);
        var done = 0;
        using var gate = new SemaphoreSlim(InFlight);
        var pending = new List<Task>();
        foreach (var i in indexes)
        {
            if (Volatile.Read(ref done) >= stopAfter)
            {
                break;
            }

            await gate.WaitAsync();
            pending.Add(Task.Run(async () =>
            {
                try
                {
                    var result = await client.PublishAsync(new MqttApplicationMessageBuilder()
                        .WithTopic($"load/{i % 10}").WithPayload($"m{i}").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
                    if (result.IsSuccess)
                    {
                        acked[i] = true;
                        Interlocked.Increment(ref done);
                    }
                }
                finally
                {
                    gate.Release();
                }
            }));
            if (pending.Count(t => t.IsFaulted) > 0)
            {
                break;
            }
        }

        await Task.WhenAll(pending);
        if (client.IsConnected)
        {
            await client.DisconnectAsync();
        }
    }
}
