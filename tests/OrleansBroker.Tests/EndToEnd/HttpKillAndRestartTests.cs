using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using static OrleansBroker.Tests.Http.HttpBroker;

namespace OrleansBroker.Tests.EndToEnd;

/// <summary>silo-host with its HTTP API as a user runs it: plain one-message requests (as curl sends them), kill -9, restart.</summary>
public sealed class HttpKillAndRestartTests
{
    private const int Count = 10_000;
    private const string Password = "http-e2e-password";

    [Fact]
    public async Task Ten_thousand_messages_published_over_http_survive_kill_9_and_are_all_received_and_completed_over_http()
    {
        using var data = new TestData();
        var (siloPort, gatewayPort, httpPort) = (RealProcess.FreePort(), RealProcess.FreePort(), RealProcess.FreePort());
        string[] args = ["--http-port", $"{httpPort}", "--Broker:Http:AdminPassword", Password];

        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort, args))
        {
            await silo.WaitUntilReadyAsync();
            using var http = Client(silo.HttpAddress);
            await ExpectAsync(await http.PutAsync("/api/queues/e2e", new StringContent("{}", Encoding.UTF8, "application/json")), HttpStatusCode.OK);

            // 16 at a time, one message per request, each confirmed (201) only once durable.
            var next = -1;
            await Task.WhenAll(Enumerable.Range(0, 16).Select(async _ =>
            {
                for (var i = Interlocked.Increment(ref next); i < Count; i = Interlocked.Increment(ref next))
                {
                    using var request = new HttpRequestMessage(HttpMethod.Post, "/api/queues/e2e/messages") { Content = new StringContent($"message {i}") };
                    request.Headers.Add("Broker-Message-Id", $"m{i}");
                    using var response = await http.SendAsync(request);
                    await ExpectAsync(response, HttpStatusCode.Created);
                }
            }));
            silo.KillHard();
        }

        using (var silo = new SiloProcess(data.Directory, siloPort, gatewayPort, args))
        {
            await silo.WaitUntilReadyAsync();
            using var http = Client(silo.HttpAddress);
            var received = new HashSet<string>();
            for (var round = 0; round < 100 && received.Count < Count; round++)
            {
                using var response = await http.PostAsync("/api/queues/e2e/messages/receive?max=1000&wait=5&lease=300", null);
                if (response.StatusCode == HttpStatusCode.NoContent)
                {
                    continue;
                }

                var deliveries = JsonNode.Parse(await ExpectAsync(response, HttpStatusCode.OK))!.AsArray();
                await Parallel.ForEachAsync(deliveries, new ParallelOptions { MaxDegreeOfParallelism = 16 }, async (delivery, cancellationToken) =>
                {
                    var body = new StringContent($"{{\"lockToken\":\"{delivery!["lockToken"]}\"}}", Encoding.UTF8, "application/json");
                    using var completed = await http.PostAsync($"/api/queues/e2e/messages/{delivery["sequence"]}/complete", body, cancellationToken);
                    await ExpectAsync(completed, HttpStatusCode.NoContent);
                });
                foreach (var delivery in deliveries)
                {
                    Assert.True(received.Add(delivery!["messageId"]!.GetValue<string>()), $"{delivery["messageId"]} came twice");
                    Assert.Equal($"message {delivery["messageId"]!.GetValue<string>()[1..]}", delivery["body"]!.GetValue<string>());
                }
            }

            Assert.Equal(Count, received.Count);
            var info = JsonNode.Parse(await ExpectAsync(await http.GetAsync("/api/queues/e2e"), HttpStatusCode.OK))!;
            Assert.Equal(0, info["ready"]!.GetValue<long>() + info["inFlight"]!.GetValue<long>() + info["delayed"]!.GetValue<long>());
            await ExpectAsync(await http.PostAsync("/api/queues/e2e/messages/receive", null), HttpStatusCode.NoContent);
        }
    }

    private static HttpClient Client(Uri address) => new()
    {
        BaseAddress = address,
        Timeout = TimeSpan.FromSeconds(60),
        DefaultRequestHeaders = { Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"admin:{Password}"))) },
    };
}
