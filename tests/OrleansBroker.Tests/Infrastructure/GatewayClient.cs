using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OrleansBroker.Client;
using OrleansBroker.Client.Hosting;

namespace OrleansBroker.Tests.Infrastructure;

/// <summary>An application's Orleans client on a silo-host process's gateway, connected with UseBrokerClient as client-sample connects.</summary>
public sealed class GatewayClient : IAsyncDisposable
{
    private readonly IHost _host;

    private GatewayClient(IHost host)
    {
        _host = host;
        Broker = host.Services.GetRequiredService<IBrokerClient>();
        Admin = host.Services.GetRequiredService<IBrokerAdministrationClient>();
    }

    public IBrokerClient Broker { get; }

    public IBrokerAdministrationClient Admin { get; }

    public static Task<GatewayClient> ConnectAsync(int gatewayPort) => ConnectAsync(new BrokerClientOptions { GatewayPort = gatewayPort });

    public static async Task<GatewayClient> ConnectAsync(BrokerClientOptions options)
    {
        var host = new HostBuilder()
            .UseOrleansClient(client => client.UseBrokerClient(options))
            .Build();
        using var timeout = new CancellationTokenSource(Eventually.DefaultTimeout);
        await host.StartAsync(timeout.Token);
        return new GatewayClient(host);
    }

    public async ValueTask DisposeAsync()
    {
        // The silo may be gone (killed): a client that cannot say goodbye stops anyway.
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        try
        {
            await _host.StopAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
        }

        _host.Dispose();
    }
}
