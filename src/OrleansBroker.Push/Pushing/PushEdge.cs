using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OrleansBroker.Client;
using OrleansBroker.Push.Hosting;

namespace OrleansBroker.Push.Pushing;

/// <summary>What every push worker of a silo shares: settings, the silo's broker client, one HTTP client, metrics.</summary>
internal sealed class PushEdge : IDisposable
{
    public PushEdge(IOptions<BrokerPushOptions> options, IBrokerClient client, PushMetrics metrics, ILoggerFactory loggers, TimeProvider time, ILocalSiloDetails silo)
    {
        Options = options.Value;
        Client = client;
        Metrics = metrics;
        Time = time;
        SiloName = silo.SiloAddress.ToString();
        Logger = loggers.CreateLogger("OrleansBroker.Push");
        Hosts = new PushHosts(Options.AllowedHosts);

        // Redirects are not followed (an endpoint could point the broker at an internal address); every connection is checked.
        Http = new HttpClient(new SocketsHttpHandler
        {
            AllowAutoRedirect = false,
            UseCookies = false,
            UseProxy = false,
            AutomaticDecompression = DecompressionMethods.None,
            PooledConnectionIdleTimeout = TimeSpan.FromMinutes(1),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            ConnectTimeout = TimeSpan.FromSeconds(10),
            ConnectCallback = (context, cancellationToken) => Hosts.ConnectAsync(context.DnsEndPoint, cancellationToken),
        })
        {
            Timeout = Timeout.InfiniteTimeSpan,
        };
        Http.DefaultRequestHeaders.UserAgent.ParseAdd("OrleansBroker-Push/1.0");
    }

    public BrokerPushOptions Options { get; }

    public IBrokerClient Client { get; }

    public PushMetrics Metrics { get; }

    public TimeProvider Time { get; }

    public string SiloName { get; }

    public ILogger Logger { get; }

    public PushHosts Hosts { get; }

    public HttpClient Http { get; }

    public void Dispose() => Http.Dispose();
}
