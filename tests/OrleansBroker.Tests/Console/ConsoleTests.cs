using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json.Nodes;
using Microsoft.Playwright;
using OrleansBroker.Identity;
using OrleansBroker.Tests.Http;
using OrleansBroker.Tests.Infrastructure;
using Xunit;
using static Microsoft.Playwright.Assertions;

namespace OrleansBroker.Tests.Console;

/// <summary>
/// The management console in a real headless Chromium against a silo serving it on Kestrel: what a user sees and clicks,
/// and what the API does as a result. The screenshots in docs/images are taken here, from these runs.
/// </summary>
public sealed class ConsoleTests(Chromium chromium) : IClassFixture<Chromium>
{
    private static readonly string Screenshots = Path.Combine(RealProcess.RepoRoot, "docs", "images");

    [Fact]
    public async Task An_administrator_sees_a_queue_appear_peeks_at_its_message_and_redrives_a_dead_letter_from_the_page()
    {
        await using var broker = await HttpBroker.StartAsync();
        var (context, page, errors) = await chromium.OpenAsync(broker.Address);
        await using var _ = context;
        await SignInAsync(page, "admin", HttpBroker.AdminPassword);
        await Expect(page.Locator("#overview-figures [data-figure=queues] .value")).ToHaveTextAsync("0");

        await page.GetByRole(AriaRole.Link, new() { Name = "Queues", Exact = true }).ClickAsync();
        await Expect(page.Locator("#queues tbody")).ToContainTextAsync("No queues yet.");

        // Made and published to through the API while the page is open: the list shows it on its next reading.
        await HttpBroker.CreateQueueAsync(broker.Admin, "orders", new { maxDeliveryAttempts = 3 });
        await HttpBroker.ExpectAsync(await broker.Admin.PostAsync("/api/queues/orders/messages",
            new StringContent("""{"order":17,"lines":[{"sku":"A-1","qty":2}]}""", Encoding.UTF8, "application/json")), HttpStatusCode.Created);
        var row = page.Locator("#queues tr[data-queue=orders]");
        await Expect(row).ToBeVisibleAsync();
        await Expect(row.Locator("td").Nth(1)).ToHaveTextAsync("1");

        await SaveScreenshotAsync(page, "console-queues.png");
        await row.GetByRole(AriaRole.Link, new() { Name = "orders" }).ClickAsync();
        await Expect(page.Locator("#queue-figures [data-figure=ready] .value")).ToHaveTextAsync("1");
        var message = page.Locator("#messages details.message").First;
        await Expect(message).ToContainTextAsync("ready");
        await page.Locator("#body-view").SelectOptionAsync("json");
        await message.Locator("summary").ClickAsync();
        await Expect(message.Locator("pre.body")).ToContainTextAsync("\"sku\": \"A-1\"");
        await page.Locator("#body-view").SelectOptionAsync("hex");
        await Expect(page.Locator("#messages pre.body").First).ToContainTextAsync("7b 22 6f 72 64 65 72 22");

        // A consumer gives up on it: dead-lettered with a reason, the page shows why and sends it back.
        var delivery = Assert.Single(await HttpBroker.ReceiveAsync(broker.Admin, "orders"))!;
        await HttpBroker.ExpectAsync(await HttpBroker.SettleAsync(broker.Admin, "orders", delivery, "dead-letter", new { reason = "customer unknown" }), HttpStatusCode.NoContent);
        await page.Locator("#body-view").SelectOptionAsync("json");
        await Expect(page.Locator("#queue-figures [data-figure=dead-lettered] .value")).ToHaveTextAsync("1");
        await SaveScreenshotAsync(page, "console-queue.png");

        await page.Locator("#dead-letters-link").ClickAsync();
        var deadLetter = page.Locator("#dead-letters tbody tr").First;
        await Expect(deadLetter.Locator("td.reason")).ToContainTextAsync("customer unknown");
        await Expect(deadLetter).ToContainTextAsync("orders");
        await SaveScreenshotAsync(page, "console-dead-letters.png");
        await deadLetter.GetByRole(AriaRole.Checkbox).CheckAsync();
        await page.Locator("#redrive-selected").ClickAsync();
        await Expect(page.Locator("#notice")).ToContainTextAsync("Redrove 1 message.");
        await Expect(page.Locator("#dead-letters tbody")).ToContainTextAsync("No dead letters.");

        var orders = await broker.Admin.GetFromJsonAsync<JsonObject>("/api/queues/orders");
        Assert.Equal(1, orders!["ready"]!.GetValue<long>());

        await page.GetByRole(AriaRole.Link, new() { Name = "Overview" }).ClickAsync();
        await Expect(page.Locator("#overview-figures [data-figure=ready] .value")).ToHaveTextAsync("1");
        await Expect(page.GetByRole(AriaRole.Table, new() { Name = "Silos" })).ToContainTextAsync("active");

        // Traffic while the overview reads the counters: its chart draws rates from three readings on.
        using var stop = new CancellationTokenSource();
        var traffic = Task.Run(() => TrafficAsync(broker, stop.Token));
        await page.WaitForFunctionAsync("() => Number(document.querySelector('.chart')?.dataset.points) >= 3", null, new() { Timeout = 90_000 });
        await stop.CancelAsync();
        await traffic;
        await SaveScreenshotAsync(page, "console-overview.png");
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Redrive_all_moves_a_large_dead_letter_queue_back_in_steps_and_the_cluster_page_shows_where_the_queue_lives()
    {
        const int count = 1_200;
        await using var broker = await HttpBroker.StartAsync();
        await HttpBroker.CreateQueueAsync(broker.Admin, "payments");
        foreach (var batch in Enumerable.Range(0, count).Select(i => new { body = $"payment {i}" }).Chunk(600))
        {
            await HttpBroker.ExpectAsync(await broker.Admin.PostAsync("/api/queues/payments/messages/batch", HttpBroker.Json(batch)), HttpStatusCode.Created);
        }

        var deliveries = new List<JsonNode?>();
        while (deliveries.Count < count)
        {
            deliveries.AddRange(await HttpBroker.ReceiveAsync(broker.Admin, "payments", max: 1000, lease: 300));
        }

        foreach (var chunk in deliveries.Chunk(16))
        {
            await Task.WhenAll(chunk.Select(async d => await HttpBroker.ExpectAsync(
                await HttpBroker.SettleAsync(broker.Admin, "payments", d!, "dead-letter", new { reason = "card declined" }), HttpStatusCode.NoContent)));
        }

        var (context, page, errors) = await chromium.OpenAsync(broker.Address);
        await using var _ = context;
        await SignInAsync(page, "admin", HttpBroker.AdminPassword);
        await page.GotoAsync("/#/dead-letters/payments.dlq");
        await Expect(page.Locator("#dead-letter-count")).ToHaveTextAsync("1,200 messages");
        await Expect(page.Locator("#dead-letters tbody")).ToContainTextAsync("Showing the oldest 100 of 1,200.");
        await page.Locator("#redrive-all").ClickAsync();
        await Expect(page.Locator("#notice")).ToHaveTextAsync("Redrove 1,200 messages.");
        await Expect(page.Locator("#dead-letter-count")).ToHaveTextAsync("0 messages");
        var payments = await broker.Admin.GetFromJsonAsync<JsonObject>("/api/queues/payments");
        Assert.Equal(count, payments!["ready"]!.GetValue<long>());

        await page.GetByRole(AriaRole.Link, new() { Name = "Cluster" }).ClickAsync();
        var silo = page.Locator("#cluster section").First;
        await Expect(silo).ToContainTextAsync("active");
        await Expect(silo.GetByRole(AriaRole.Link, new() { Name = "payments", Exact = true })).ToBeVisibleAsync();
        Assert.Empty(errors);
    }

    [Fact]
    public async Task A_user_who_may_only_receive_gets_no_purge_button_and_the_API_refuses_the_purge_anyway()
    {
        await using var broker = await HttpBroker.StartAsync();
        await HttpBroker.CreateQueueAsync(broker.Admin, "orders");
        await HttpBroker.ExpectAsync(await broker.Admin.PutAsync("/api/users/reader", HttpBroker.Json(new
        {
            password = "reader-password-1",
            access = new PrincipalAccess("", [new TenantPermission("", Receive: "orders")]),
        })), HttpStatusCode.Created);

        var (context, page, errors) = await chromium.OpenAsync(broker.Address);
        await using var _ = context;
        await SignInAsync(page, "reader", "reader-password-1");
        await Expect(page.GetByRole(AriaRole.Link, new() { Name = "Users and keys" })).ToBeHiddenAsync();
        await page.GotoAsync("/#/queues/orders");
        await Expect(page.Locator("main")).ToContainTextAsync("You may not manage queue orders");
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Purge" })).ToHaveCountAsync(0);
        await Expect(page.GetByRole(AriaRole.Button, new() { Name = "Delete" })).ToHaveCountAsync(0);

        var reader = broker.Client(HttpBroker.Basic("reader", "reader-password-1"));
        await HttpBroker.ExpectProblemAsync(await reader.PostAsync("/api/queues/orders/purge", null), HttpStatusCode.Forbidden, "Forbidden");
        Assert.Empty(errors);
    }

    [Fact]
    public async Task A_wrong_password_is_told_on_the_page_and_the_console_itself_is_served_with_a_strict_content_security_policy()
    {
        await using var broker = await HttpBroker.StartAsync();
        var (context, page, errors) = await chromium.OpenAsync(broker.Address);
        await using var _ = context;
        var response = await page.GotoAsync("/");
        Assert.Contains("default-src 'self'", (await response!.AllHeadersAsync())["content-security-policy"], StringComparison.Ordinal);
        await page.GetByLabel("User name").FillAsync("admin");
        await page.GetByLabel("Password or API key").FillAsync("not-the-password");
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.GetByRole(AriaRole.Alert)).ToHaveTextAsync("Wrong user name, password or key.");
        await Expect(page.Locator("#nav")).ToBeHiddenAsync();
        Assert.Empty(errors);
    }

    [Fact]
    public async Task Topics_show_their_subscriptions_filters_and_depths_and_an_administrator_makes_a_key_shown_once()
    {
        await using var broker = await HttpBroker.StartAsync();
        await HttpBroker.ExpectAsync(await broker.Admin.PutAsync("/api/topics/events", HttpBroker.Json(new { })), HttpStatusCode.OK);
        var (context, page, errors) = await chromium.OpenAsync(broker.Address);
        await using var _ = context;
        await SignInAsync(page, "admin", HttpBroker.AdminPassword);

        await page.GotoAsync("/#/topics/events");
        await page.GetByText("Add a subscription").ClickAsync();
        await page.Locator("#new-subscription-name").FillAsync("billing");
        await page.Locator("#new-subscription-keys").FillAsync("orders.*, refunds.#");
        await page.GetByRole(AriaRole.Button, new() { Name = "Add subscription" }).ClickAsync();
        var subscription = page.Locator("#subscriptions tr[data-subscription=billing]");
        await Expect(subscription).ToContainTextAsync("routing key orders.* or refunds.#");

        await HttpBroker.ExpectAsync(await broker.Admin.PostAsync("/api/topics/events/messages",
            new StringContent("paid", Encoding.UTF8, "text/plain") { Headers = { { "Broker-Routing-Key", "orders.paid" } } }), HttpStatusCode.Created);
        await Expect(subscription.Locator("td").Nth(3)).ToHaveTextAsync("1");
        await SaveScreenshotAsync(page, "console-topic.png");

        await subscription.GetByRole(AriaRole.Button, new() { Name = "Remove subscription billing" }).ClickAsync();
        await page.GetByRole(AriaRole.Dialog).GetByRole(AriaRole.Button, new() { Name = "Remove" }).ClickAsync();
        await Expect(page.Locator("#subscriptions")).ToContainTextAsync("No subscriptions");
        var topic = await broker.Admin.GetFromJsonAsync<JsonObject>("/api/topics/events");
        Assert.Empty(topic!["subscriptions"]!.AsArray());

        await page.GetByRole(AriaRole.Link, new() { Name = "Users and keys" }).ClickAsync();
        await page.GetByText("Add a user or key").ClickAsync();
        await page.Locator("#principal-kind").SelectOptionAsync("key");
        await page.Locator("#principal-name").FillAsync("deployer");
        await page.Locator("#principal-send").FillAsync("orders");
        await page.GetByRole(AriaRole.Button, new() { Name = "Save" }).ClickAsync();
        var key = await page.Locator("#new-key .key").TextContentAsync();
        Assert.StartsWith("obk.deployer.", key, StringComparison.Ordinal);
        await Expect(page.Locator("#principals tr[data-principal=deployer]")).ToContainTextAsync("send orders");

        var deployer = broker.Client(HttpBroker.Bearer(key!));
        var whoami = await deployer.GetFromJsonAsync<JsonObject>("/api/whoami");
        Assert.Equal("deployer", whoami!["name"]!.GetValue<string>());

        // An administrator types any tenant; the pages then show that tenant's queues only.
        await HttpBroker.CreateQueueAsync(broker.Admin, "orders");
        await page.Locator("#tenant-name").FillAsync("acme");
        await page.Locator("#tenant-name").PressAsync("Enter");
        await page.GetByRole(AriaRole.Link, new() { Name = "Queues", Exact = true }).ClickAsync();
        await Expect(page.Locator("#queues tbody")).ToContainTextAsync("No queues yet.");
        await HttpBroker.CreateQueueAsync(broker.Client(HttpBroker.Basic("admin", HttpBroker.AdminPassword), tenant: "acme"), "invoices");
        await Expect(page.Locator("#queues tr[data-queue=invoices]")).ToBeVisibleAsync();
        await Expect(page.Locator("#queues tr[data-queue=orders]")).ToHaveCountAsync(0);
        Assert.Empty(errors);
    }

    /// <summary>Batches published to <c>orders</c> and taken and completed, until stopped.</summary>
    private static async Task TrafficAsync(HttpBroker broker, CancellationToken stop)
    {
        var batch = HttpBroker.Json(Enumerable.Range(0, 50).Select(i => new { body = $"{{\"order\":{i}}}" }).ToArray());
        while (!stop.IsCancellationRequested)
        {
            await HttpBroker.ExpectAsync(await broker.Admin.PostAsync("/api/queues/orders/messages/batch", batch, CancellationToken.None), HttpStatusCode.Created);
            foreach (var delivery in await HttpBroker.ReceiveAsync(broker.Admin, "orders", max: 40))
            {
                await HttpBroker.ExpectAsync(await HttpBroker.SettleAsync(broker.Admin, "orders", delivery!, "complete"), HttpStatusCode.NoContent);
            }
        }
    }

    internal static async Task SignInAsync(IPage page, string user, string password)
    {
        await page.GotoAsync("/");
        await page.GetByLabel("User name").FillAsync(user);
        await page.GetByLabel("Password or API key").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await Expect(page.Locator("#who")).ToHaveTextAsync(user);
    }

    private static async Task SaveScreenshotAsync(IPage page, string name)
    {
        Directory.CreateDirectory(Screenshots);
        await page.EvaluateAsync("() => window.scrollTo(0, 0)");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(Screenshots, name), FullPage = false });
    }
}
