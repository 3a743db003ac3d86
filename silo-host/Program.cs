using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using OrleansBroker.Amqp.Hosting;
using OrleansBroker.Errors;
using OrleansBroker.Http.Hosting;
using OrleansBroker.Mqtt.Hosting;
using OrleansBroker.Push.Hosting;
using OrleansBroker.Server.Hosting;

// One durable broker silo. Settings: appsettings.json, then Broker__* environment variables,
// then switches (--data-dir, --storage, --clustering, --silo-port, --gateway-port, --http-port, --mqtt-port, --amqp-port, ...). Ctrl+C stops it gracefully.
// appsettings.json ships beside the binary; the data folder is relative to the working directory.
try
{
    var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
    builder.Configuration.AddCommandLine(args, Switches);
    builder.UseOrleans(silo => silo.UseBrokerSilo(builder.Configuration).UseBrokerHttp(builder.Configuration).UseBrokerMqtt(builder.Configuration).UseBrokerAmqp(builder.Configuration).UseBrokerPush(builder.Configuration));
    await builder.Build().RunAsync();
    return 0;
}
catch (Exception exception) when (BadSetting(exception) is { } bad)
{
    // A bad setting, found while configuring or starting (Orleans wraps what its start-up stages throw): one line naming it.
    await Console.Error.WriteLineAsync($"obroker-silo: {bad.Message}");
    return 2;
}

static BrokerException? BadSetting(Exception exception)
{
    for (Exception? e = exception; e is not null; e = e.InnerException)
    {
        if (e is BrokerException { Code: BrokerErrorCode.InvalidOptions } bad)
        {
            return bad;
        }
    }

    return null;
}

/// <summary>Command-line switches of silo-host and the configuration keys they set (any key also works as --Broker:Key=value).</summary>
internal static partial class Program
{
    private static readonly Dictionary<string, string> Switches = new()
    {
        ["--storage"] = "Broker:Storage",
        ["--data-dir"] = "Broker:DataDirectory",
        ["--azure-connection-string"] = "Broker:AzureConnectionString",
        ["--postgres-connection-string"] = "Broker:PostgresConnectionString",
        ["--silo-port"] = "Broker:SiloPort",
        ["--gateway-port"] = "Broker:GatewayPort",
        ["--cluster-id"] = "Broker:ClusterId",
        ["--max-message-bytes"] = "Broker:MaxMessageBytes",
        ["--disk-free-limit"] = "Broker:DiskFreeLimit",
        ["--clustering"] = "Broker:Clustering",
        ["--advertised-address"] = "Broker:AdvertisedAddress",
        ["--http-port"] = "Broker:Http:Port",
        ["--http-address"] = "Broker:Http:Address",
        ["--mqtt-port"] = "Broker:Mqtt:Port",
        ["--mqtt-address"] = "Broker:Mqtt:Address",
        ["--amqp-port"] = "Broker:Amqp:Port",
        ["--amqp-address"] = "Broker:Amqp:Address",
    };
}
