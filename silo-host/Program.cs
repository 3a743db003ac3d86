using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using OrleansBroker.Server.Hosting;

// One durable broker silo. Settings: appsettings.json, then Broker__* environment variables,
// then switches (--data-dir, --storage, --silo-port, --gateway-port, ...). Ctrl+C stops it gracefully.
// appsettings.json ships beside the binary; the data folder is relative to the working directory.
var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { Args = args, ContentRootPath = AppContext.BaseDirectory });
builder.Configuration.AddCommandLine(args, BrokerSiloHostExtensions.CommandLineSwitches.ToDictionary());
builder.UseOrleans(silo => silo.UseBrokerSilo(builder.Configuration));
await builder.Build().RunAsync();
