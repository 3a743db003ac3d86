using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using MQTTnet;
using MQTTnet.Formatter;
using MQTTnet.Protocol;
using OrleansBroker.Identity;
using OrleansBroker.Tests.Infrastructure;
using Xunit;

namespace OrleansBroker.Tests.Mqtt;

/// <summary>MQTT and AMQP 1.0 over TLS from a configured PEM certificate, beside plain ones, with MQTTnet, mosquitto and AMQP.Net Lite clients.</summary>
public sealed class MqttTlsTests
{
    private const string Password = "mqtt-tls-password";

    [Fact]
    public async Task The_tls_port_serves_mqtt_with_the_configured_certificate()
    {
        using var data = new TestData();
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=localhost", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        var names = new SubjectAlternativeNameBuilder();
        names.AddIpAddress(IPAddress.Loopback);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        using var certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddMinutes(-5), DateTimeOffset.UtcNow.AddDays(1));
        var certificatePath = Path.Combine(data.Directory, "broker.crt");
        var keyPath = Path.Combine(data.Directory, "broker.key");
        await File.WriteAllTextAsync(certificatePath, certificate.ExportCertificatePem());
        await File.WriteAllTextAsync(keyPath, key.ExportPkcs8PrivateKeyPem());

        using var silo = new SiloProcess(data.Directory, RealProcess.FreePort(), RealProcess.FreePort(), "--Broker:Http:AdminPassword", Password,
            "--Broker:Mqtt:CertificatePath", certificatePath, "--Broker:Mqtt:CertificateKeyPath", keyPath, "--Broker:Mqtt:TlsPort", "0",
            "--Broker:Mqtt:AnonymousPrincipal", "device",
            "--Broker:Amqp:CertificatePath", certificatePath, "--Broker:Amqp:CertificateKeyPath", keyPath, "--Broker:Amqp:TlsPort", "0",
            "--Broker:Amqp:AnonymousPrincipal", "device");
        await silo.WaitUntilReadyAsync();

        // Anonymous clients act as 'device', which may publish under secure/anonymous only.
        using (var http = new HttpClient { BaseAddress = silo.HttpAddress })
        {
            http.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes($"admin:{Password}")));
            await Http.HttpBroker.ExpectAsync(await http.PutAsync("/api/users/device", Http.HttpBroker.Json(new
            {
                password = "device-password",
                access = new PrincipalAccess(Tenants.Default, [new TenantPermission(Tenants.Default, "", "mqtt/secure/anonymous/*", "")]),
            })), HttpStatusCode.Created);
        }

        // MQTTnet over TLS, checking that the broker presents exactly the configured certificate.
        string? seen = null;
        await using var subscriber = new MqttTestClient();
        await subscriber.ConnectAsync(silo.MqttTlsPort, "tls-subscriber", "admin", Password, MqttProtocolVersion.V500, clean: true, sessionExpiry: 0,
            options => options.WithTlsOptions(tls => tls.UseTls().WithTargetHost("localhost").WithCertificateValidationHandler(e =>
            {
                seen = new X509Certificate2(e.Certificate).Thumbprint;
                return seen == certificate.Thumbprint;
            })));
        Assert.Equal(MqttClientConnectResultCode.Success, subscriber.Connected!.ResultCode);
        Assert.Equal(certificate.Thumbprint, seen);
        await subscriber.SubscribeAsync("secure/#");

        // mosquitto_pub trusting that certificate, publishing over TLS; plain MQTT is served beside it.
        var pub = await Mosquitto.PubAsync();
        var sent = await RealProcess.RunProgramAsync(pub, data.Directory, TimeSpan.FromSeconds(60),
            "-h", "127.0.0.1", "-p", $"{silo.MqttTlsPort}", "--cafile", certificatePath, "-u", "admin", "-P", Password, "-t", "secure/tls", "-m", "over tls", "-q", "1");
        Assert.True(sent.ExitCode == 0, sent.Err + sent.Out);
        var plain = await RealProcess.RunProgramAsync(pub, data.Directory, TimeSpan.FromSeconds(60),
            "-h", "127.0.0.1", "-p", $"{silo.MqttPort}", "-u", "admin", "-P", Password, "-t", "secure/plain", "-m", "plain", "-q", "1");
        Assert.True(plain.ExitCode == 0, plain.Err + plain.Out);
        var anonymous = await RealProcess.RunProgramAsync(pub, data.Directory, TimeSpan.FromSeconds(60),
            "-h", "127.0.0.1", "-p", $"{silo.MqttPort}", "-t", "secure/anonymous/x", "-m", "anonymous", "-q", "1");
        Assert.True(anonymous.ExitCode == 0, anonymous.Err + anonymous.Out);
        await using var outside = new MqttTestClient();
        await outside.ConnectAsync(silo.MqttPort, $"anonymous-{Guid.NewGuid():N}", user: null, password: null, MqttProtocolVersion.V500, clean: true, sessionExpiry: 0);
        Assert.Equal(MqttClientConnectResultCode.Success, outside.Connected!.ResultCode);
        var refused = await outside.Client.PublishAsync(new MqttApplicationMessageBuilder().WithTopic("secure/elsewhere").WithPayload("no").WithQualityOfServiceLevel(MqttQualityOfServiceLevel.AtLeastOnce).Build());
        Assert.Equal(MqttClientPublishReasonCode.NotAuthorized, refused.ReasonCode);
        await Eventually.HoldsAsync(() => new[] { "over tls", "plain", "anonymous" }.All(subscriber.Payloads.Contains), "the three publishes arrived over TLS");
        Assert.DoesNotContain("no", subscriber.Payloads);
        Assert.All(subscriber.Received, m => Assert.Equal(MqttQualityOfServiceLevel.AtLeastOnce, m.QualityOfServiceLevel));

        // AMQP 1.0 over TLS with the same certificate: an AMQP.Net Lite sender reaches the MQTT subscriber; SASL ANONYMOUS signs
        // in as 'device', whose permissions do not reach the topic as a whole.
        string? amqpSeen = null;
        var tls = new global::Amqp.ConnectionFactory();
        tls.SSL.RemoteCertificateValidationCallback = (_, presented, _, _) => (amqpSeen = presented?.GetCertHashString()) == certificate.Thumbprint;
        var amqps = await tls.CreateAsync(new global::Amqp.Address("127.0.0.1", silo.AmqpTlsPort, "admin", Password, scheme: "amqps"));
        Assert.Equal(certificate.Thumbprint, amqpSeen);
        var overAmqps = Amqp.AmqpTestExtensions.Text("over amqps");
        overAmqps.Properties.Subject = "secure.amqps";
        await new global::Amqp.SenderLink(new global::Amqp.Session(amqps), "tls-sender", "/topics/mqtt").SendAsync(overAmqps);
        await amqps.CloseAsync();
        await Eventually.HoldsAsync(() => subscriber.Payloads.Contains("over amqps"), "the AMQP send over TLS arrived");

        var anonymousAmqp = new global::Amqp.ConnectionFactory();
        anonymousAmqp.SASL.Profile = global::Amqp.Sasl.SaslProfile.Anonymous;
        var device = await anonymousAmqp.CreateAsync(new global::Amqp.Address($"amqp://127.0.0.1:{silo.AmqpPort}"));
        Assert.Equal("amqp:unauthorized-access", await Amqp.AmqpTestExtensions.RefusedAsync(() =>
            new global::Amqp.SenderLink(new global::Amqp.Session(device), "anonymous-sender", "/topics/mqtt").SendAsync(Amqp.AmqpTestExtensions.Text("no"))));
        await device.CloseAsync();
    }
}
