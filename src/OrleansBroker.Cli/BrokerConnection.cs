using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using OrleansBroker.Client;
using OrleansBroker.Client.Hosting;

namespace OrleansBroker.Cli;

/// <summary>An Orleans client connected to the broker's gateways, for one CLI command.</summary>
internal sealed class BrokerConnection : IAsyncDisposable
{
    /// <summary>How long a command waits to connect to a gateway before failing with exit code 3.</summary>
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(15);

    private readonly IHost _host;

    private BrokerConnection(IHost host) => _host = host;

    public IBrokerClient Broker => _host.Services.GetRequiredService<IBrokerClient>();

    public IBrokerAdministrationClient Admin => _host.Services.GetRequiredService<IBrokerAdministrationClient>();

    public static async Task<BrokerConnection> ConnectAsync(BrokerTarget target, string clusterId, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddConsole(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
        builder.Logging.SetMinimumLevel(LogLevel.Error);
        // A failed connect is reported as one line by the CLI; the host would add a stack trace.
        builder.Logging.AddFilter("Microsoft.Extensions.Hosting", LogLevel.None);
        builder.UseOrleansClient(client =>
        {
            if (target.AzureConnectionString is { } connectionString)
            {
                client.UseAzureStorageClustering(membership =>
                {
                    membership.TableServiceClient = new Azure.Data.Tables.TableServiceClient(connectionString);
                    membership.TableName = target.Table!;
                });
            }
            else
            {
                client.UseStaticClustering([.. target.Gateways]);
            }

            client.Configure<ClusterOptions>(o =>
            {
                o.ClusterId = clusterId;
                o.ServiceId = clusterId;
            });
            client.AddBrokerClient();
        });
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
            throw new CliException(3, $"cannot reach the broker at {target} within {ConnectTimeout.TotalSeconds:F0} s");
        }
        catch (Exception exception) when (exception is not OperationCanceledException)
        {
            // Not disposed: disposing a client that never connected can block, and the CLI exits next.
            throw new CliException(3, $"cannot reach the broker at {target}: {exception.GetBaseException().Message}");
        }

        return new BrokerConnection(host);
    }

    internal static IPEndPoint ParseGateway(string gateway)
    {
        var colon = gateway.LastIndexOf(':');
        if (colon <= 0 || !int.TryParse(gateway.AsSpan(colon + 1), out var port) || port is < 1 or > 65535)
        {
            throw new CliException(2, $"--gateway '{gateway}' is not HOST:PORT");
        }

        var host = gateway[..colon];
        if (IPAddress.TryParse(host, out var address))
        {
            return new IPEndPoint(address, port);
        }

        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return new IPEndPoint(IPAddress.Loopback, port);
        }

        try
        {
            var resolved = Dns.GetHostAddresses(host).FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork)
                ?? throw new CliException(2, $"--gateway host '{host}' has no IPv4 address");
            return new IPEndPoint(resolved, port);
        }
        catch (SocketException exception)
        {
            throw new CliException(2, $"--gateway host '{host}' cannot be resolved: {exception.Message}");
        }
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
