using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OrleansBroker.Client;
using OrleansBroker.Client.Hosting;
using OrleansBroker.Errors;

namespace OrleansBroker.Cli;

/// <summary>An Orleans client connected to the broker's gateways, for one CLI command.</summary>
internal sealed class BrokerConnection : IAsyncDisposable
{
    /// <summary>How long a command waits to connect to a gateway before failing with exit code 3.</summary>
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(15);

    /// <summary>How long the check for a listening gateway waits for a TCP answer before leaving it to the client.</summary>
    private static readonly TimeSpan ProbeTimeout = TimeSpan.FromSeconds(2);

    /// <summary>Connection attempts before a command says it cannot reach the broker (one a second).</summary>
    private const int ConnectAttempts = 3;

    private readonly IHost _host;

    private BrokerConnection(IHost host) => _host = host;

    public IBrokerClient Broker => _host.Services.GetRequiredService<IBrokerClient>();

    public IBrokerAdministrationClient Admin => _host.Services.GetRequiredService<IBrokerAdministrationClient>();

    /// <summary>Users, API keys and permissions (the gateway is trusted: no sign-in).</summary>
    public Identity.IIdentityGrain Identity => _host.Services.GetRequiredService<IClusterClient>().GetGrain<Identity.IIdentityGrain>(0);

    /// <summary>Connects as <c>UseBrokerClient</c> does; a bad setting is exit code 2, a broker out of reach exit code 3.</summary>
    public static async Task<BrokerConnection> ConnectAsync(BrokerClientOptions options, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(LogLevel.Error);
        // A failed connect is reported as one line by the CLI; the host would add a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        try
        {
            builder.UseOrleansClient(client => client.UseBrokerClient(options).UseConnectionRetryFilter(RetryConnect()));
        }
        catch (BrokerException exception) when (exception.Code == BrokerErrorCode.InvalidOptions)
        {
            throw new CliException(2, exception.Message);
        }

        var where = options.Clustering switch
        {
            BrokerClustering.Azure => $"the gateways listed in Azure table '{options.ClusteringTableName}'",
            BrokerClustering.Postgres => "the gateways listed in the PostgreSQL membership table",
            _ => string.Join(", ", options.GatewayEndPoints()),
        };
        var listening = options.Clustering == BrokerClustering.Localhost
            && await RefuseWhenNothingListensAsync(options.GatewayEndPoints(), where, cancellationToken).ConfigureAwait(false);

        var host = builder.Build();
        using var connectTimeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connectTimeout.CancelAfter(ConnectTimeout);
        try
        {
            // The Orleans client may keep retrying a gateway that refuses; a CLI gives up and says so.
            await host.StartAsync(connectTimeout.Token).WaitAsync(connectTimeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw new CliException(3, $"cannot reach the broker at {where} within {ConnectTimeout.TotalSeconds:F0} s");
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // Not disposed: disposing a client that never connected can block, and the CLI exits next.
            var why = listening
                ? "a gateway took the connection and closed it (a gateway with TLS needs --tls-certificate, --tls-key and --tls-trust, "
                    + $"with a certificate from an authority it trusts): {exception.GetBaseException().Message}"
                : exception.GetBaseException().Message;
            throw new CliException(3, $"cannot reach the broker at {where}: {why}");
        }

        return new BrokerConnection(host);
    }

    /// <summary>
    /// A command tries to connect <see cref="ConnectAttempts"/> times, a second apart (a gateway just starting), then says
    /// why it could not: an application's client keeps trying for minutes, a person at a prompt wants the reason.
    /// </summary>
    private static Func<Exception, CancellationToken, Task<bool>> RetryConnect()
    {
        var failed = 0;
        return async (exception, cancellationToken) =>
        {
            if (++failed >= ConnectAttempts)
            {
                return false;
            }

            await Task.Delay(TimeSpan.FromSeconds(1), cancellationToken).ConfigureAwait(false);
            return true;
        };
    }

    /// <summary>
    /// Fails at once when every gateway refuses a TCP connection (nothing listens there), instead of letting the Orleans
    /// client try. A gateway that accepts, or does not answer within <see cref="ProbeTimeout"/>, is left to the client's own
    /// connect; returns whether one accepted.
    /// </summary>
    private static async Task<bool> RefuseWhenNothingListensAsync(IReadOnlyList<IPEndPoint> gateways, string where, CancellationToken cancellationToken)
    {
        var probes = await Task.WhenAll(gateways.Select(gateway => TcpProbe.ConnectAsync(gateway.Address.ToString(), gateway.Port, ProbeTimeout, cancellationToken)))
            .ConfigureAwait(false);
        if (probes.All(probe => probe.Result == TcpProbeResult.Refused))
        {
            throw new CliException(3, $"cannot reach the broker at {where}: {probes[0].Reason}");
        }

        return probes.Any(probe => probe.Result == TcpProbeResult.Accepted);
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await _host.StopAsync(TimeSpan.FromSeconds(5)).ConfigureAwait(false);
        }
        finally
        {
            _host.Dispose();
        }
    }
}
