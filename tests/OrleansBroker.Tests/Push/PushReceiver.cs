using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace OrleansBroker.Tests.Push;

/// <summary>
/// A webhook receiver as a user would write one: Kestrel on a free loopback port, one path per hook, each request recorded.
/// A hook confirms the broker's validation request (echoing its token) unless told not to, and answers messages as told.
/// </summary>
public sealed class PushReceiver : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, Hook> _hooks = new(StringComparer.Ordinal);

    private PushReceiver(WebApplication app) => _app = app;

    public int Port { get; private set; }

    public static async Task<PushReceiver> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseKestrel(k => k.Listen(IPAddress.Loopback, 0));
        var app = builder.Build();
        var receiver = new PushReceiver(app);
        app.MapPost("/hooks/{name}", receiver.HandleAsync);
        await app.StartAsync();
        receiver.Port = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First()).Port;
        return receiver;
    }

    /// <summary>A new hook with a unique path; <paramref name="answer"/> gives the status (and Retry-After) of its n-th message request (0-based).</summary>
    public Hook Add(Func<int, (int Status, string? RetryAfter)>? answer = null, bool confirm = true)
    {
        var hook = new Hook($"http://127.0.0.1:{Port}/hooks/{Guid.NewGuid():N}", answer ?? (_ => (200, null)), confirm);
        _hooks[hook.Name] = hook;
        return hook;
    }

    private async Task HandleAsync(HttpContext http, string name)
    {
        if (!_hooks.TryGetValue(name, out var hook))
        {
            http.Response.StatusCode = 404;
            return;
        }

        using var body = new MemoryStream();
        await http.Request.Body.CopyToAsync(body);
        var request = new Request(
            http.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase), body.ToArray(), DateTimeOffset.UtcNow);
        if (request.Header("Broker-Push-Validation") is { } token)
        {
            hook.Validations.Enqueue(request);
            await http.Response.WriteAsync(hook.Confirm ? token : "not this one");
            return;
        }

        var (status, retryAfter) = hook.Answer(hook.Next());
        request = request with { Status = status };
        hook.Messages.Enqueue(request);
        http.Response.StatusCode = status;
        if (retryAfter is not null)
        {
            http.Response.Headers.RetryAfter = retryAfter;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>One endpoint: the requests it got.</summary>
    public sealed class Hook(string url, Func<int, (int Status, string? RetryAfter)> answer, bool confirm)
    {
        private int _count;

        public string Url { get; } = url;

        public string Name => Url[(Url.LastIndexOf('/') + 1)..];

        public bool Confirm { get; } = confirm;

        public Func<int, (int Status, string? RetryAfter)> Answer { get; } = answer;

        public ConcurrentQueue<Request> Validations { get; } = new();

        public ConcurrentQueue<Request> Messages { get; } = new();

        public int Next() => Interlocked.Increment(ref _count) - 1;

        /// <summary>Ids of messages answered with a 2xx, and how often.</summary>
        public Dictionary<string, int> Acked() =>
            Messages.Where(m => m.Status is >= 200 and < 300).GroupBy(m => m.Header("Broker-Message-Id") ?? m.Header("ce-id") ?? "").ToDictionary(g => g.Key, g => g.Count());
    }

    /// <summary>A request as it arrived.</summary>
    public sealed record Request(IReadOnlyDictionary<string, string> Headers, byte[] Body, DateTimeOffset At, int Status = 200)
    {
        public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;

        public int Attempt => int.Parse(Header("Broker-Delivery-Attempt")!, CultureInfo.InvariantCulture);

        /// <summary>Whether Broker-Signature holds a v1 that <paramref name="secret"/> makes over "t.body", with t within 5 minutes of now.</summary>
        public bool SignedWith(string secret)
        {
            var parts = (Header("Broker-Signature") ?? "").Split(',');
            var t = parts.FirstOrDefault(p => p.StartsWith("t=", StringComparison.Ordinal))?[2..];
            if (t is null || !long.TryParse(t, CultureInfo.InvariantCulture, out var seconds) || Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - seconds) > 300)
            {
                return false;
            }

            var expected = Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), Encoding.ASCII.GetBytes(t + ".").Concat(Body).ToArray()));
            return parts.Any(p => p == "v1=" + expected);
        }
    }
}
