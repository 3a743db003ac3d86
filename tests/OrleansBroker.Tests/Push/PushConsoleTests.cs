using OrleansBroker.Messages;
using OrleansBroker.Tests.Console;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using static Microsoft.Playwright.Assertions;

namespace OrleansBroker.Tests.Push;

/// <summary>What an operator sees of push delivery in the console, in a real headless Chromium against silo-host.</summary>
public sealed class PushConsoleTests(PushSilo broker, Chromium chromium) : IClassFixture<PushSilo>, IClassFixture<Chromium>
{
    [Fact]
    public async Task The_queue_page_shows_what_pushing_does_and_the_last_failure_and_never_the_secret()
    {
        var hook = broker.Receiver.Add(n => n == 0 ? (503, null) : (200, null));
        var queue = await broker.CreateQueueAsync(hook);
        await broker.Dotnet.Broker.PublishBatchAsync(queue, [new BrokerMessage("c1", "x"u8.ToArray()), new BrokerMessage("c2", "x"u8.ToArray())]);
        await Eventually.HoldsAsync(async () => (await broker.Dotnet.Admin.GetQueueInfoAsync(queue)) is { Ready: 0, InFlight: 0, Counters.Acked: 2 }, "both acked");

        var (context, page, errors) = await chromium.OpenAsync(broker.Silo.HttpAddress);
        await using var _ = context;
        await ConsoleTests.SignInAsync(page, "admin", PushSilo.AdminPassword);
        await page.GotoAsync($"/#/queues/{queue}");
        var notice = page.Locator("#push-state");
        await Expect(notice).ToContainTextAsync($"Pushing to {hook.Url}: active");
        await Expect(notice).ToContainTextAsync("2 pushed, 1 failed; last failure HTTP 503");
        await Expect(page.Locator("#queue-options")).ToContainTextAsync("(hidden)");
        Assert.DoesNotContain(PushSilo.Secret, await page.ContentAsync(), StringComparison.Ordinal);
        Assert.Empty(errors);
    }
}
