using System.Net;
using System.Text.Json.Nodes;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using static OrleansBroker.Tests.Http.HttpBroker;

namespace OrleansBroker.Tests.Http;

/// <summary>
/// The disk alarm over HTTP: publishes are 507 StorageFull and <c>/readyz</c> is 503 saying why, while receives and settles go
/// on; then publishing works again and the silo is ready.
/// </summary>
public sealed class HttpDiskFullTests
{
    [Fact]
    public async Task Under_the_disk_alarm_a_publish_is_507_and_receiving_and_completing_go_on_until_space_returns()
    {
        using var disk = Tmpfs.Mount(64);
        await using var broker = await HttpBroker.StartAsync(sqlite: options =>
        {
            options.DataDirectory = Path.Combine(disk.Directory, "data");
            options.DiskFreeLimit = "8MiB";
            options.DiskCheckInterval = TimeSpan.FromMilliseconds(100);
        });
        var admin = broker.Admin;
        var anonymous = broker.Client();
        var ready = JsonNode.Parse(await ExpectAsync(await anonymous.GetAsync("/readyz"), HttpStatusCode.OK))!;
        Assert.Equal("ready", ready["status"]!.GetValue<string>());
        Assert.Equal("active", ready["checks"]!["membership"]!.GetValue<string>());
        Assert.Equal("takes writes", ready["checks"]!["storage"]!.GetValue<string>());
        await CreateQueueAsync(admin, "alarmed");
        await ExpectAsync(await admin.PostAsync("/api/queues/alarmed/messages", new StringContent("before")), HttpStatusCode.Created);

        var filler = disk.Fill();
        await Eventually.HoldsAsync(async () => JsonNode.Parse(await (await admin.GetAsync("/api/queues/alarmed")).Content.ReadAsStringAsync())!["publishesRefused"] is not null,
            "the alarm raised");
        var refused = await ExpectProblemAsync(await admin.PostAsync("/api/queues/alarmed/messages", new StringContent("refused")), HttpStatusCode.InsufficientStorage, "StorageFull");
        Assert.Contains("Broker:DiskFreeLimit", refused["detail"]!.GetValue<string>(), StringComparison.Ordinal);
        var unready = JsonNode.Parse(await ExpectAsync(await anonymous.GetAsync("/readyz"), HttpStatusCode.ServiceUnavailable))!;
        Assert.Equal("unavailable", unready["status"]!.GetValue<string>());
        Assert.Contains("Broker:DiskFreeLimit", unready["reason"]!.GetValue<string>(), StringComparison.Ordinal);
        await ExpectAsync(await anonymous.GetAsync("/healthz"), HttpStatusCode.OK);

        var delivery = Assert.Single(await ReceiveAsync(admin, "alarmed", max: 10, wait: 10))!;
        Assert.Equal("before", delivery["body"]!.GetValue<string>());
        await ExpectAsync(await SettleAsync(admin, "alarmed", delivery, "complete"), HttpStatusCode.NoContent);

        File.Delete(filler);
        await Eventually.HoldsAsync(async () => (await admin.PostAsync("/api/queues/alarmed/messages", new StringContent("after"))).StatusCode == HttpStatusCode.Created,
            "publishing works again once space returns");
        await ExpectAsync(await anonymous.GetAsync("/readyz"), HttpStatusCode.OK);
    }
}
