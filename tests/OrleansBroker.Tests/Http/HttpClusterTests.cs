using System.Net;
using System.Text.Json.Nodes;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using static OrleansBroker.Tests.Http.HttpBroker;

namespace OrleansBroker.Tests.Http;

/// <summary>Three silos on Azure Storage (Azurite), each serving HTTP: any silo answers for any queue and any principal.</summary>
public sealed class HttpClusterTests : IAsyncLifetime
{
    private readonly Azurite _azurite = new();

    public Task InitializeAsync() => _azurite.InitializeAsync();

    public Task DisposeAsync() => _azurite.DisposeAsync();

    [Fact]
    public async Task Every_silo_serves_every_queue_and_a_key_made_on_one_signs_in_on_the_others()
    {
        await using var broker = await HttpBroker.StartAsync(silos: 3, storage: _azurite.ClusterStorage());
        var silos = broker.SiloAddresses;
        Assert.Equal(3, silos.Distinct().Count());
        var key = await broker.CreateKeyAsync("everywhere", Everything(""));
        using var first = new HttpClient { BaseAddress = silos[0], DefaultRequestHeaders = { Authorization = Bearer(key) } };
        using var second = new HttpClient { BaseAddress = silos[1], DefaultRequestHeaders = { Authorization = Bearer(key) } };
        using var third = new HttpClient { BaseAddress = silos[2], DefaultRequestHeaders = { Authorization = Bearer(key) } };

        await CreateQueueAsync(first, "spread", new { partitions = 3 });
        var batch = Enumerable.Range(0, 30).Select(i => new { id = $"m{i}", body = $"{i}", orderingKey = $"k{i}" }).ToArray();
        await ExpectAsync(await second.PostAsync("/api/queues/spread/messages/batch", Json(batch)), HttpStatusCode.Created);

        var received = new List<string>();
        for (var round = 0; round < 30 && received.Count < batch.Length; round++)
        {
            foreach (var delivery in await ReceiveAsync(third, "spread", max: 30, wait: 5))
            {
                await ExpectAsync(await SettleAsync(first, "spread", delivery!, "complete"), HttpStatusCode.NoContent);
                received.Add(delivery!["messageId"]!.GetValue<string>());
            }
        }

        Assert.Equal(batch.Select(m => m.id).Order(), received.Order());
        var info = JsonNode.Parse(await ExpectAsync(await second.GetAsync("/api/queues/spread"), HttpStatusCode.OK))!;
        Assert.True(info["partitions"]!.AsArray().Select(p => p!["silo"]!.GetValue<string>()).Distinct().Count() > 1, "the partitions live on one silo");
        var overview = JsonNode.Parse(await ExpectAsync(await third.GetAsync("/api/overview"), HttpStatusCode.OK))!;
        Assert.Equal(3, overview["silos"]!.AsArray().Count(s => s!["status"]!.GetValue<string>() == "active"));

        // Where each partition is active, as the console's cluster page shows it: the same silos the queue names.
        var cluster = JsonNode.Parse(await ExpectAsync(await first.GetAsync("/api/cluster"), HttpStatusCode.OK))!["silos"]!.AsArray();
        Assert.Equal(3, cluster.Count);
        var hosting = cluster
            .SelectMany(s => s!["partitions"]!.AsArray().Where(p => p!["queue"]!.GetValue<string>() == "spread").Select(p => (Silo: s["address"]!.GetValue<string>(), Partition: p!["partition"]!.GetValue<int>())))
            .ToList();
        Assert.Equal([0, 1, 2], hosting.Select(h => h.Partition).Order());
        Assert.Equal(
            info["partitions"]!.AsArray().Select(p => p!["silo"]!.GetValue<string>()).Order(),
            hosting.OrderBy(h => h.Partition).Select(h => h.Silo).Order());
    }
}
