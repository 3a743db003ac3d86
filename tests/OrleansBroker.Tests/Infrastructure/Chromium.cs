using Microsoft.Playwright;
using Xunit;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>
/// A real headless Chromium for the console's browser tests, driven by Playwright: Debian's <c>chromium</c> package
/// (<c>/usr/bin/chromium</c>, or the executable <c>OBROKER_TEST_CHROMIUM</c> names), installed with apt-get on first use
/// when missing and the tests run as root; otherwise the tests fail saying how to install it. Playwright never downloads
/// a browser of its own. One browser per test class; each test opens its own context (cookies, storage) and closes it.
/// </summary>
public sealed class Chromium : IAsyncLifetime
{
    public const string ExecutableVariable = "OBROKER_TEST_CHROMIUM";

    private const string DebianExecutable = "/usr/bin/chromium";

    private IPlaywright? _playwright;

    public IBrowser Browser { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        var executable = await EnsureInstalledAsync();
        _playwright = await Playwright.CreateAsync();
        Browser = await _playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = executable,
            Headless = true,
            Timeout = 120_000,
            // This machine's network is closed: without these Chromium keeps trying (and failing) to reach Google's hosts.
            Args = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage"],
        });
        Assertions.SetDefaultExpectTimeout(30_000);
    }

    /// <summary>A fresh page in a context of its own, at a laptop's window size, failing the test on a script error.</summary>
    public async Task<(IBrowserContext Context, IPage Page, List<string> Errors)> OpenAsync(Uri address)
    {
        var context = await Browser.NewContextAsync(new BrowserNewContextOptions { BaseURL = address.ToString(), ViewportSize = new ViewportSize { Width = 1366, Height = 900 } });
        context.SetDefaultTimeout(30_000);
        var page = await context.NewPageAsync();
        var errors = new List<string>();
        page.PageError += (_, error) => { lock (errors) { errors.Add(error); } };
        page.Console += (_, message) =>
        {
            // A refused request (403 on purpose) is logged by the browser as an error too; those are the tests' own business.
            if (message.Type == "error" && !message.Text.Contains("Failed to load resource", StringComparison.Ordinal))
            {
                lock (errors) { errors.Add(message.Text); }
            }
        };
        return (context, page, errors);
    }

    public async Task DisposeAsync()
    {
        if (Browser is not null)
        {
            await Browser.CloseAsync();
        }

        _playwright?.Dispose();
    }

    private static async Task<string> EnsureInstalledAsync()
    {
        if (Environment.GetEnvironmentVariable(ExecutableVariable) is { Length: > 0 } given)
        {
            return File.Exists(given) ? given : throw new InvalidOperationException($"{ExecutableVariable} names '{given}', which does not exist.");
        }

        return await DebianPackage.EnsureAsync(DebianExecutable, "chromium",
            $"The console's browser tests (or set {ExecutableVariable} to a Chromium executable)");
    }
}
