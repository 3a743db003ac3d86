using System.Globalization;
using Microsoft.Playwright;

namespace OrleansBroker.Benchmarks;

/// <summary>
/// How long the console's queue list takes to first show its rows, in a real headless Chromium (Debian's, through
/// Playwright): signs in once, then loads <c>/#/queues</c> afresh each run and reads the time from the start of the
/// navigation to the page's <c>obroker:queues-painted</c> mark (set when the first page of rows is in the table).
/// Prints each run and the median. Run by console-bench.sh against a silo it fills with queues.
/// </summary>
internal static class ConsolePaint
{
    public static async Task<int> RunAsync(string[] args)
    {
        string Option(string name, string fallback) => args.SkipWhile(a => a != name).Skip(1).FirstOrDefault() ?? fallback;
        var url = Option("--url", "http://127.0.0.1:30080/");
        var user = Option("--user", "admin");
        var password = Option("--password", Environment.GetEnvironmentVariable("OBROKER_PASSWORD") ?? "");
        var runs = int.Parse(Option("--runs", "5"), CultureInfo.InvariantCulture);
        var executable = Option("--chromium", "/usr/bin/chromium");

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = executable,
            Headless = true,
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
        });
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = url, ViewportSize = new ViewportSize { Width = 1366, Height = 900 } });
        await page.GotoAsync("/");
        await page.GetByLabel("User name").FillAsync(user);
        await page.GetByLabel("Password or API key").FillAsync(password);
        await page.GetByRole(AriaRole.Button, new() { Name = "Sign in" }).ClickAsync();
        await page.Locator("#who").WaitForAsync();

        var times = new List<double>();
        for (var run = 0; run <= runs; run++)
        {
            await page.GotoAsync("/#/queues");
            await page.ReloadAsync();
            var painted = await page.WaitForFunctionAsync(
                "() => performance.getEntriesByName('obroker:queues-painted')[0]?.startTime", null, new() { Timeout = 60_000 });
            var total = (await page.Locator("#queues-count").TextContentAsync())?.Trim();
            var ms = await painted.JsonValueAsync<double>();
            if (run == 0)
            {
                Console.WriteLine($"warm-up: {ms:F0} ms ({total} queues)");
                continue;
            }

            times.Add(ms);
            Console.WriteLine($"run {run}: {ms:F0} ms from navigation to the first rows ({total} queues)");
        }

        times.Sort();
        Console.WriteLine($"median: {times[times.Count / 2]:F0} ms");
        return 0;
    }
}
