using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Orleans.Configuration;
using OrleansBroker.Client.Hosting;
using OrleansBroker.Errors;
using Xunit;

namespace OrleansBroker.Tests.Client;

/// <summary>The client's settings bound from the <c>Broker</c> section: how a lost silo is noticed, and a bad value named.</summary>
public sealed class ClientOptionsTests
{
    [Fact]
    public void The_silo_loss_settings_bind_from_configuration_and_reach_Orleans()
    {
        using var host = Build(new()
        {
            ["Broker:Clustering"] = "postgres",
            ["Broker:PostgresConnectionString"] = "Host=127.0.0.1;Database=broker",
            ["Broker:SiloLossGrace"] = "00:00:07",
            ["Broker:GatewayListRefreshPeriod"] = "00:00:02",
        });

        Assert.Equal(TimeSpan.FromSeconds(7), host.Services.GetRequiredService<BrokerClientOptions>().SiloLossGrace);
        Assert.Equal(TimeSpan.FromSeconds(2), host.Services.GetRequiredService<IOptions<GatewayOptions>>().Value.GatewayListRefreshPeriod);
    }

    [Fact]
    public void By_default_a_client_rereads_the_gateway_list_every_5_s_and_waits_3_s_after_a_silo_loss()
    {
        using var host = Build([]);

        Assert.Equal(TimeSpan.FromSeconds(3), host.Services.GetRequiredService<BrokerClientOptions>().SiloLossGrace);
        Assert.Equal(TimeSpan.FromSeconds(5), host.Services.GetRequiredService<IOptions<GatewayOptions>>().Value.GatewayListRefreshPeriod);
    }

    [Theory]
    [InlineData("Broker:SiloLossGrace", "00:00:00.01")]
    [InlineData("Broker:SiloLossGrace", "01:00:00")]
    [InlineData("Broker:GatewayListRefreshPeriod", "00:00:00")]
    public void An_out_of_range_value_is_refused_naming_the_setting(string key, string value)
    {
        var failure = Assert.Throws<BrokerException>(() => Build(new() { [key] = value }).Dispose());
        Assert.Equal(BrokerErrorCode.InvalidOptions, failure.Code);
        Assert.Contains(key, failure.Message, StringComparison.Ordinal);
    }

    private static IHost Build(Dictionary<string, string?> settings)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
        return new HostBuilder().UseOrleansClient(client => client.UseBrokerClient(configuration)).Build();
    }
}
