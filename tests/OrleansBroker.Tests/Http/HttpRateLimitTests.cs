using System.Net;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using static OrleansBroker.Tests.Http.HttpBroker;

namespace OrleansBroker.Tests.Http;

/// <summary><c>Broker:Http:RequestsPerSecond</c>: past it a principal gets 429 with Retry-After; the next second it is served again.</summary>
public sealed class HttpRateLimitTests
{
    [Fact]
    public async Task A_principal_past_its_rate_gets_429_with_retry_after_and_is_served_again_later()
    {
        await using var broker = await HttpBroker.StartAsync(http => http.RequestsPerSecond = 5);
        var responses = await Task.WhenAll(Enumerable.Range(0, 30).Select(_ => broker.Admin.GetAsync("/api/whoami")));

        var refused = responses.Where(r => r.StatusCode == HttpStatusCode.TooManyRequests).ToList();
        Assert.NotEmpty(refused);
        Assert.Contains(responses, r => r.StatusCode == HttpStatusCode.OK);
        Assert.All(responses, r => Assert.True(r.StatusCode is HttpStatusCode.OK or HttpStatusCode.TooManyRequests, $"{r.StatusCode}"));
        await ExpectProblemAsync(refused[0], HttpStatusCode.TooManyRequests, "RateLimited");
        Assert.Equal("1", refused[0].Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        await Eventually.HoldsAsync(async () => (await broker.Admin.GetAsync("/api/whoami")).StatusCode == HttpStatusCode.OK, "served again after the window");
        await ExpectAsync(await broker.Client().GetAsync("/healthz"), HttpStatusCode.OK);
    }
}
