using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using OrleansBroker.Errors;
using OrleansBroker.Server.Hosting;

// One durable broker silo. Settings: appsettings.json, then Broker__* environment variables,
// then switches (--data-dir, --storage, --clustering, --silo-port, --gateway-port, ...). Ctrl+C stops it gracefully.
// appsettings.json ships beside the binary; the data folder is relative to the working directory.
try
{
    var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
    builder.Configuration.AddCommandLine(args, BrokerSiloHostExtensions.CommandLineSwitches.ToDictionary());
    builder.UseOrleans(silo => silo.UseBrokerSilo(builder.Configuration));
    await builder.Build().RunAsync();
    return 0;
}
catch (BrokerException exception) when (exception.Code == BrokerErrorCode.InvalidOptions)
{
    // A bad setting: one line naming it, no stack trace.
    await Console.Error.WriteLineAsync($"obroker-silo: {exception.Message}");
    return 2;
}
